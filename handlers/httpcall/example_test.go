package httpcall_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/httpcall"
)

// Call the handler against a test server, with a secret substituted into a
// header: the message names the URL as configured, and the result carries
// the response.
func ExampleSpecWithClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id": 42}`)
	}))
	defer srv.Close()

	spec := httpcall.SpecWithClient(srv.Client())
	task := &handler.Task{
		Config: []byte(`{"method": "POST", "url": "` + srv.URL + `/items",
			"headers": {"Authorization": "Bearer {{secret.TOKEN}}"},
			"body": {"name": "x"}, "expect_status": [201]}`),
		Secrets: map[string]string{"TOKEN": "s3cret"},
	}
	res, err := spec.Func(context.Background(), task)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	resp := res.Data.(httpcall.Response)
	fmt.Println(strings.Replace(res.Message, srv.URL, "http://server", 1))
	fmt.Println(resp.Status, resp.Body)
	// Output:
	// POST http://server/items → 201
	// 201 {"id": 42}
}
