package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestAuditTrail: every change and sign-in through the API and the UI is
// in the audit log, with who, from where, and what changed before →
// after, and never a secret value.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	c := clientFrom(t, "127.0.0.1")
	admin := []string{"Authorization", "Bearer " + nodeToken, "Content-Type", "application/json"}
	call := func(method, path, body string, want int) string {
		t.Helper()
		resp, b := n.send(c, n.request(method, path, body, admin...))
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	const secretValue = "s3cr3t-value-of-the-job"
	call(http.MethodPost, "/api/v1/users", `{"username":"li.lei","role":"operator","password":"li lei's password"}`, 201)
	call(http.MethodPost, "/api/v1/jobs", `{"id":"audited","handler":"noop","cron_expr":"0 * * * *","secret_cfg":{"api_key":"`+secretValue+`"}}`, 201)
	call(http.MethodPatch, "/api/v1/jobs/audited", `{"cron_expr":"*/5 * * * *","secret_cfg":{"api_key":"another `+secretValue+`","token":"x"}}`, 200)

	// li.lei signs in from another address, fails once, runs the job, signs out.
	browser := clientFrom(t, "127.0.0.2")
	if st := n.loginAs(browser, "li.lei", "wrong password!"); st != http.StatusUnauthorized {
		t.Fatalf("wrong login: %d", st)
	}
	if st := n.loginAs(browser, "li.lei", "li lei's password"); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	csrf := n.csrfOf(browser)
	if resp, b := n.send(browser, n.request(http.MethodPost, "/api/v1/jobs/audited/run", "", "X-CSRF-Token", csrf)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("run now: %d %s", resp.StatusCode, b)
	}
	if resp, _ := n.send(browser, n.request(http.MethodPatch, "/api/v1/jobs/audited", `{"description":"x"}`, "X-CSRF-Token", csrf)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an operator's edit: %d", resp.StatusCode)
	}
	form := url.Values{"csrf_token": {csrf}}
	if resp, _ := n.send(browser, n.request(http.MethodPost, "/admin/logout", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	call(http.MethodDelete, "/api/v1/jobs/audited", "", 204)

	var page struct {
		Entries []connecthub.AuditEntry
	}
	raw := call(http.MethodGet, "/api/v1/audit", "", 200)
	if err := json.Unmarshal([]byte(raw), &page); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, secretValue) {
		t.Fatalf("the audit log holds a secret value:\n%s", raw)
	}
	type row struct{ action, actor, client string }
	var got []row
	for _, e := range page.Entries {
		got = append(got, row{e.Action, e.Actor, e.Client})
	}
	want := []row{
		{"job.delete", "admin_token", "127.0.0.1"},
		{"logout", "li.lei", "127.0.0.2"},
		{"run.now", "li.lei", "127.0.0.2"},
		{"login.ok", "li.lei", "127.0.0.2"},
		{"login.failed", "anonymous", "127.0.0.2"},
		{"job.update", "admin_token", "127.0.0.1"},
		{"job.create", "admin_token", "127.0.0.1"},
		{"user.create", "admin_token", "127.0.0.1"},
	}
	if len(got) != len(want) {
		t.Fatalf("audit = %v\nwant %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v", i, got[i], want[i])
		}
	}
	upd := page.Entries[5]
	changes := map[string]connecthub.AuditChange{}
	for _, ch := range upd.Changes {
		changes[ch.Field] = ch
	}
	if ch := changes["cron_expr"]; ch.Before != "0 * * * *" || ch.After != "*/5 * * * *" {
		t.Errorf("cron_expr change = %+v", ch)
	}
	if ch := changes["secret_cfg"]; ch.After != "keys [api_key, token] changed" || ch.Before != "" {
		t.Errorf("secret_cfg change = %+v", ch)
	}
	if !upd.BreakGlass || page.Entries[3].Target != "user:li.lei" || page.Entries[4].Target != "user:li.lei" {
		t.Errorf("break-glass or targets wrong: %+v / %+v", upd, page.Entries[3])
	}

	// Filters and the export.
	raw = call(http.MethodGet, "/api/v1/audit?actor=li.lei&action=login.", "", 200)
	if err := json.Unmarshal([]byte(raw), &page); err != nil || len(page.Entries) != 1 || page.Entries[0].Action != "login.ok" {
		t.Errorf("filtered audit = %s", raw)
	}
	csv := call(http.MethodGet, "/api/v1/audit/export?format=csv&target=job:audited", "", 200)
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[0], "id,at,actor") ||
		!strings.Contains(csv, "cron_expr: 0 * * * * → */5 * * * *") {
		t.Errorf("CSV export:\n%s", csv)
	}
	call(http.MethodGet, "/api/v1/audit/export?format=xml", "", 400)
	call(http.MethodGet, "/api/v1/audit?since=yesterday", "", 400)
}
