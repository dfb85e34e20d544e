package builtin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handler/handlertest"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/handlers/httpcall"
)

func names(r *handler.Registry) []string {
	var out []string
	for _, s := range r.List() {
		out = append(out, s.Name)
	}
	return out
}

func TestRegister(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts builtin.Options
		want []string
	}{
		{"shell off by default", builtin.Options{}, []string{"httpcall", "noop", "sleep"}},
		{"shell enabled", builtin.Options{EnableShell: true}, []string{"httpcall", "noop", "shell", "sleep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := handler.NewRegistry()
			if err := builtin.Register(r, tt.opts); err != nil {
				t.Fatal(err)
			}
			if got := names(r); !slices.Equal(got, tt.want) {
				t.Fatalf("registered %q, want %q", got, tt.want)
			}
			for _, spec := range r.List() {
				if spec.Description == "" || spec.Func == nil {
					t.Errorf("%s: incomplete spec", spec.Name)
				}
				handlertest.CheckSchema(t, spec, []string{}, []string{`"not an object"`})
			}
		})
	}
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	if err := builtin.Register(nil, builtin.Options{}); err == nil {
		t.Error("Register(nil) succeeded")
	}
	r := handler.NewRegistry()
	if err := builtin.Register(r, builtin.Options{}); err != nil {
		t.Fatal(err)
	}
	err := builtin.Register(r, builtin.Options{})
	if err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("a second Register: err = %v, want a duplicate error", err)
	}
}

func TestRegisterRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    builtin.Options
		wantErr string
	}{
		{"bad deny-list", builtin.Options{HTTPCallDeny: []string{"10.0.0.0/99"}}, `deny-list: "10.0.0.0/99"`},
		{"bad allow-list", builtin.Options{HTTPCallAllow: []string{"not a host"}}, `allow-list: "not a host"`},
		{"unknown shell user", builtin.Options{EnableShell: true, ShellUser: "no-such-user-connecthub"}, `shell user "no-such-user-connecthub"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := builtin.Register(handler.NewRegistry(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	// Without shell, the user is not looked up.
	if err := builtin.Register(handler.NewRegistry(), builtin.Options{ShellUser: "no-such-user-connecthub"}); err != nil {
		t.Errorf("shell off, unknown user: err = %v", err)
	}
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	noop := handler.Spec{Name: "noop", Func: func(context.Context, *handler.Task) (*handler.Result, error) { return nil, nil }}
	got, err := builtin.Configure(noop, builtin.Options{HTTPCallDeny: []string{"10.0.0.0/99"}})
	if err != nil || got.Name != "noop" || got.Description != "" {
		t.Errorf("Configure(noop) = %+v, %v; want it unchanged", got, err)
	}
	if _, err := builtin.Configure(handler.Spec{Name: "httpcall"}, builtin.Options{HTTPCallDeny: []string{"10.0.0.0/99"}}); err == nil {
		t.Error("Configure(httpcall) accepted a bad deny-list")
	}
	if _, err := builtin.Configure(handler.Spec{Name: "shell"}, builtin.Options{ShellUser: "no-such-user-connecthub"}); err == nil {
		t.Error("Configure(shell) accepted an unknown user")
	}
	sh, err := builtin.Configure(handler.Spec{Name: "shell"}, builtin.Options{})
	if err != nil || sh.Func == nil || sh.Name != "shell" {
		t.Errorf("Configure(shell) = %+v, %v", sh, err)
	}
}

// TestRegisterAppliesTheEgressPolicy denies the address of a test server:
// the registered httpcall refuses to call it.
func TestRegisterAppliesTheEgressPolicy(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	r := handler.NewRegistry()
	if err := builtin.Register(r, builtin.Options{HTTPCallDeny: []string{"127.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	spec, _ := r.Lookup("httpcall")
	_, err := spec.Func(context.Background(), &handler.Task{Config: []byte(`{"url": "` + srv.URL + `"}`)})
	if !errors.Is(err, httpcall.ErrEgressDenied) {
		t.Errorf("err = %v, want egress_denied", err)
	}
}

// roundTripper answers every request itself and records its URL.
type roundTripper struct{ urls []string }

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.urls = append(rt.urls, req.URL.String())
	return &http.Response{
		StatusCode: http.StatusOK,
		Status:     "200 OK",
		Proto:      "HTTP/1.1",
		Header:     http.Header{"Content-Type": {"text/plain"}},
		Body:       io.NopCloser(strings.NewReader("stubbed")),
		Request:    req,
	}, nil
}

func TestRegisterUsesTheHTTPClient(t *testing.T) {
	t.Parallel()
	rt := &roundTripper{}
	r := handler.NewRegistry()
	if err := builtin.Register(r, builtin.Options{HTTPClient: &http.Client{Transport: rt}}); err != nil {
		t.Fatal(err)
	}
	spec, ok := r.Lookup("httpcall")
	if !ok {
		t.Fatal("httpcall is not registered")
	}
	res, err := spec.Func(context.Background(), &handler.Task{Config: []byte(`{"url": "https://api.invalid/x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rt.urls, []string{"https://api.invalid/x"}) || res.Message != "GET https://api.invalid/x → 200" {
		t.Errorf("the client saw %q; message %q", rt.urls, res.Message)
	}
}
