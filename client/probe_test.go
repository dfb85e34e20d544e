package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/client"
)

// TestProbe: a 200 is ready; another status names the URL and the status;
// a URL that cannot make a request is an ErrBadProbeURL; a refused
// connection is an error that is not.
func TestProbe(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			http.Error(w, "storage_error", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := client.Probe(t.Context(), srv.URL+"/health/ready"); err != nil {
		t.Errorf("ready: %v", err)
	}
	err := client.Probe(t.Context(), srv.URL+"/down")
	if err == nil || !strings.Contains(err.Error(), srv.URL+"/down answered 503 Service Unavailable") {
		t.Errorf("503: %v", err)
	}
	var bad *client.ErrBadProbeURL
	if err := client.Probe(t.Context(), "http://[::1"); !errors.As(err, &bad) {
		t.Errorf("a bad URL: %v, want an ErrBadProbeURL", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if err := client.Probe(t.Context(), closed.URL); err == nil || errors.As(err, &bad) {
		t.Errorf("a refused connection: %v", err)
	}
}
