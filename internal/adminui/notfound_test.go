package adminui_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestUnknownPathsOutsideTheUI checks the 404s of the whole server as the
// admin UI wraps the API: a small page with the way to the UI and the API
// for a mistyped address, JSON for the API, 405 still for a wrong method.
func TestUnknownPathsOutsideTheUI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
		want         []string
		not          []string
	}{
		{"GET", "/nope", 404, "text/html", []string{`href="/admin/"`, "/api/v1/", "docs/api.md", "<code>/nope</code>"}, []string{"404 page not found"}},
		{"GET", "/health/nope", 404, "text/html", []string{`href="/admin/"`}, nil},
		{"GET", "/<script>x", 404, "text/html", []string{"&lt;script&gt;x"}, []string{"<script>x"}},
		{"POST", "/nope", 404, "text/html", []string{`href="/admin/"`}, nil},
		{"GET", "/api/v1/nope", 401, "application/json", []string{`"error"`}, nil},
		{"GET", "/api/nope", 404, "application/json", []string{`"not_found"`}, nil},
		{"POST", "/health/live", 405, "text/plain", nil, nil},
		{"GET", "/health/live", 200, "application/json", []string{`"ok"`}, nil},
	} {
		req, err := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := b.do(req)
		if p.status != tc.status || !strings.HasPrefix(p.header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s %s: %d %q, want %d %s\n%s", tc.method, tc.path, p.status, p.header.Get("Content-Type"), tc.status, tc.ctype, p.body)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("%s %s: body lacks %q:\n%s", tc.method, tc.path, w, p.body)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(p.body, w) {
				t.Errorf("%s %s: body has %q:\n%s", tc.method, tc.path, w, p.body)
			}
		}
	}
}
