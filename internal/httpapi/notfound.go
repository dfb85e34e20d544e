package httpapi

import (
	"html"
	"net/http"
	"strings"
)

// unrouted reports whether no route of the mux serves r's path with any
// method. A path that exists for another method is left to the mux, which
// answers 405 with an Allow header.
func (a *API) unrouted(r *http.Request) bool {
	if _, pattern := a.mux.Handler(r); pattern != "" {
		return false
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "" {
			return false
		}
	}
	return true
}

// notFoundPage answers a path that is neither the API (whose 404 stays
// JSON) nor the admin UI with a small page that says where things are,
// rather than Go's bare "404 page not found": a person who mistyped the
// address wants the way to the UI and to the API's reference.
func notFoundPage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusNotFound)
	if r.Method == http.MethodHead {
		return
	}
	var b strings.Builder
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not found · ConnectHub</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2937}code{background:#f3f4f6;padding:0 .25em;border-radius:3px}h1{font-size:1.5rem}</style>
</head><body>
<h1>404 · Not found</h1>
<p>ConnectHub has nothing at <code>`)
	b.WriteString(html.EscapeString(r.URL.Path))
	b.WriteString(`</code>.</p>
<ul>
<li><a href="/admin/">The admin UI</a>: jobs, runs and nodes (log in as <code>admin</code>).</li>
<li>The REST API lives under <code>/api/v1/</code>, e.g. <a href="/api/v1/jobs"><code>GET /api/v1/jobs</code></a> with <code>Authorization: Bearer &lt;token&gt;</code>; its reference is <code>docs/api.md</code> in the ConnectHub source.</li>
<li>Health: <a href="/health/ready"><code>/health/ready</code></a>, <a href="/health/live"><code>/health/live</code></a>; metrics: <code>/metrics</code>.</li>
</ul>
</body></html>
`)
	_, _ = w.Write([]byte(b.String()))
}
