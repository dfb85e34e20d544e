package httpapi

import (
	"net/http"
	"strings"

	"github.com/connecthub/connecthub/internal/tracing"
)

// Traced wraps the node's whole HTTP handler (API, worker protocol, admin
// UI) so that each request is a span when tracing is on; with tracing off
// it returns h itself. Scrapes and health checks are left out: they come
// every few seconds and say nothing about what the node did.
func Traced(h http.Handler, t *tracing.Tracing) http.Handler {
	return t.Handler(h, untraced)
}

// untraced reports the requests Traced leaves out.
func untraced(r *http.Request) bool {
	p := r.URL.Path
	return p == "/metrics" || p == "/healthz" || p == "/health" || strings.HasPrefix(p, "/health/")
}
