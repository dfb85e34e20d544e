package adminui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestShortcutPanelOfAMissingJob checks that the job form's "notify on
// failure" panel, read or saved, answers 404 for a job that does not
// exist, and 200 for one that does.
func TestShortcutPanelOfAMissingJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{notify: true})
	e.createJob(`{"id":"present","handler":"test.noop"}`)
	b := e.browser()
	b.login()
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"panel of a job", http.MethodGet, "/admin/notify/jobs/present/shortcut", http.StatusOK},
		{"panel of a missing job", http.MethodGet, "/admin/notify/jobs/missing/shortcut", http.StatusNotFound},
		{"save for a missing job", http.MethodPost, "/admin/notify/jobs/missing/shortcut", http.StatusNotFound},
	}
	for _, tc := range tests {
		var p page
		if tc.method == http.MethodGet {
			p = b.get(tc.path)
		} else {
			p = b.post(tc.path, url.Values{"channel": {""}})
		}
		if p.status != tc.want {
			t.Errorf("%s: %s %s = %d, want %d\n%s", tc.name, tc.method, tc.path, p.status, tc.want, p.body)
		}
		if tc.want == http.StatusNotFound && strings.Contains(p.body, `name="channel"`) {
			t.Errorf("%s: the 404 page carries the panel's form", tc.name)
		}
	}
}
