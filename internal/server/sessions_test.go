package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// csrfRe finds the session's CSRF token in a page's hx-headers attribute.
var csrfRe = regexp.MustCompile(`X-CSRF-Token&#34;:&#34;([A-Za-z0-9_-]+)&#34;`)

// session logs c in and returns its session cookie's value and its CSRF
// token, as a browser holds them.
func (n *node) session(c *http.Client) (cookie, csrf string) {
	n.t.Helper()
	if code := n.login(c, nodeToken); code != http.StatusSeeOther {
		n.t.Fatalf("login: %d", code)
	}
	u, _ := url.Parse(n.url)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "connecthub_session" {
			cookie = ck.Value
		}
	}
	_, page := n.get(c, "/admin/")
	m := csrfRe.FindStringSubmatch(page)
	if cookie == "" || m == nil {
		n.t.Fatalf("no session cookie (%q) or CSRF token in the dashboard:\n%s", cookie, page)
	}
	return cookie, m[1]
}

// withCookie sends method path with a session cookie and a CSRF token, as a
// replayed copy of a browser's would, through a client without a jar.
func (n *node) withCookie(method, path, body, cookie, csrf string) (*http.Response, string) {
	n.t.Helper()
	req := n.request(method, path, body, "Cookie", "connecthub_session="+cookie, "X-CSRF-Token", csrf,
		"Content-Type", "application/json")
	return n.send(clientFrom(n.t, "127.0.0.40"), req)
}

// sessions lists the live sessions through the API with the admin token.
func (n *node) sessions() ([]connecthub.Session, string) {
	n.t.Helper()
	resp, body := n.get(clientFrom(n.t, "127.0.0.41"), "/api/v1/sessions", "Authorization", "Bearer "+nodeToken)
	if resp.StatusCode != http.StatusOK {
		n.t.Fatalf("GET /api/v1/sessions: %d %s", resp.StatusCode, body)
	}
	var out struct {
		Sessions []connecthub.Session `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		n.t.Fatal(err)
	}
	return out.Sessions, body
}

// TestLogoutSurvivesRestart is finding 6: after a restart the logged-out
// cookie worked again and created an admin API token. Now a logout is a
// row in the database: after a restart on the same data directory the old
// cookie is refused (without counting as a forgery) and creates nothing,
// while a session that was not logged out carries on, and another session
// can revoke it through the API.
func TestLogoutSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n1, stop := startStoppableNode(t, testConfig(t, dir))
	defer stop()
	leaver, stayer := clientFrom(t, "127.0.0.20"), clientFrom(t, "127.0.0.21")
	oldCookie, oldCSRF := n1.session(leaver)
	stayCookie, stayCSRF := n1.session(stayer)

	list, body := n1.sessions()
	if len(list) != 2 {
		t.Fatalf("%d live sessions, want 2: %s", len(list), body)
	}
	if strings.Contains(body, oldCookie) || strings.Contains(body, stayCookie) {
		t.Fatal("the session list shows a cookie's secret")
	}
	var stayID string
	for _, s := range list {
		if s.Client == "127.0.0.21" {
			stayID = s.ID
		}
		if s.ID == "" || s.User != "admin" || s.UserAgent == "" || s.CreatedAt.IsZero() || !s.ExpiresAt.After(s.CreatedAt) || s.LastSeenAt.IsZero() {
			t.Errorf("listed session lacks a field: %+v", s)
		}
	}
	if stayID == "" {
		t.Fatalf("no session from 127.0.0.21 in %s", body)
	}

	form := url.Values{"csrf_token": {oldCSRF}}
	req := n1.request(http.MethodPost, "/admin/logout", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := n1.send(leaver, req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	stop()

	n2, stop2 := startStoppableNode(t, testConfig(t, dir))
	defer stop2()
	if resp, body := n2.withCookie(http.MethodPost, "/api/v1/tokens", `{"name":"stolen","scope":"admin"}`, oldCookie, oldCSRF); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token create with the logged-out cookie after a restart: %d %s", resp.StatusCode, body)
	}
	if resp, _ := n2.withCookie(http.MethodGet, "/api/v1/jobs", "", oldCookie, oldCSRF); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET with the logged-out cookie after a restart: %d", resp.StatusCode)
	}
	if resp, _ := n2.withCookie(http.MethodGet, "/admin/", "", oldCookie, ""); resp.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
		t.Errorf("admin page with the logged-out cookie: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, tokens := n2.get(clientFrom(t, "127.0.0.42"), "/api/v1/tokens", "Authorization", "Bearer "+nodeToken)
	if resp.StatusCode != http.StatusOK || strings.Contains(tokens, "stolen") {
		t.Errorf("tokens after the replay: %d %s", resp.StatusCode, tokens)
	}

	// The session that did not log out survives the restart.
	if resp, body := n2.withCookie(http.MethodGet, "/api/v1/jobs", "", stayCookie, stayCSRF); resp.StatusCode != http.StatusOK {
		t.Fatalf("the other session after a restart: %d %s", resp.StatusCode, body)
	}
	if list, body := n2.sessions(); len(list) != 1 || list[0].ID != stayID {
		t.Fatalf("live sessions after the logout: %s", body)
	}

	// Another session revokes it through the API, with its CSRF token.
	adminCookie, adminCSRF := n2.session(clientFrom(t, "127.0.0.22"))
	if resp, body := n2.withCookie(http.MethodDelete, "/api/v1/sessions/"+stayID, "", adminCookie, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("revoke without the CSRF token: %d %s", resp.StatusCode, body)
	}
	if resp, body := n2.withCookie(http.MethodDelete, "/api/v1/sessions/"+stayID, "", adminCookie, adminCSRF); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke through the API: %d %s", resp.StatusCode, body)
	}
	if resp, _ := n2.withCookie(http.MethodGet, "/api/v1/jobs", "", stayCookie, stayCSRF); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the revoked session: %d, want 401", resp.StatusCode)
	}
	if resp, body := n2.withCookie(http.MethodDelete, "/api/v1/sessions/ses_nobody", "", adminCookie, adminCSRF); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoke of an unknown session: %d %s", resp.StatusCode, body)
	}

	// A logged-out or revoked cookie is what a browser innocently sends:
	// it is refused, not counted as a forgery.
	_, metrics := n2.get(clientFrom(t, "127.0.0.43"), "/metrics")
	if !strings.Contains(metrics, `connecthub_auth_failures_total{kind="session"} 0`) {
		t.Error(`/metrics lacks connecthub_auth_failures_total{kind="session"} 0`)
	}
}
