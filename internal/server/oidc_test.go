package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/sso/ssotest"
)

const (
	oidcSecret = "oidc-client-secret-0123456789"
	// hubURL is the public URL the issuer sends browsers back to: a load
	// balancer's name, which the test maps to the node's address.
	hubURL = "http://hub.test"
)

// oidcNode runs a node that signs people in through idp.
func oidcNode(t *testing.T, idp *ssotest.Provider) *node {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	cfg.Workers = 0
	cfg.PublicURL = hubURL
	cfg.OIDCIssuer, cfg.OIDCClientID, cfg.OIDCClientSecret = idp.URL, idp.ClientID, config.Secret(idp.ClientSecret)
	cfg.OIDCRoleMap = "ops-admins=admin, ops=operator"
	cfg.OIDCName = "Keycloak"
	return startNode(t, cfg)
}

// oidcSignIn clicks "Sign in with Keycloak" in browser c, lets the issuer
// send it back (through tamper, which may alter the callback or send it
// from another browser), and returns the callback's answer.
func (n *node) oidcSignIn(c *http.Client, tamper func(cb *url.URL) *http.Client) (*http.Response, string) {
	n.t.Helper()
	resp, body := n.get(c, "/admin/oidc/start?next=/admin/jobs")
	if resp.StatusCode != http.StatusSeeOther {
		return resp, body
	}
	auth, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		n.t.Fatal(err)
	}
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" ||
		q.Get("redirect_uri") != hubURL+"/admin/oidc/callback" || !strings.Contains(q.Get("scope"), "openid") {
		n.t.Fatalf("the authorization request lacks PKCE, state, nonce or the redirect URI: %s", auth)
	}
	resp, body = n.sendTo(c, auth.String())
	if resp.StatusCode != http.StatusFound {
		n.t.Fatalf("the issuer's authorization endpoint: %d %s", resp.StatusCode, body)
	}
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(cb.String(), hubURL+"/admin/oidc/callback?") {
		n.t.Fatalf("the issuer sent the browser to %q", resp.Header.Get("Location"))
	}
	browser := c
	if tamper != nil {
		if other := tamper(cb); other != nil {
			browser = other
		}
	}
	return n.get(browser, cb.Path+"?"+cb.RawQuery)
}

// sendTo sends req to another server than the node (the issuer).
func (n *node) sendTo(c *http.Client, target string) (*http.Response, string) {
	n.t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	return n.send(c, req)
}

// adminJSON calls the API with the admin token and decodes the answer.
func (n *node) adminJSON(method, path, body string, want int, out any) {
	n.t.Helper()
	resp, b := n.send(clientFrom(n.t, "127.0.0.1"), n.request(method, path, body,
		"Authorization", "Bearer "+nodeToken, "Content-Type", "application/json"))
	if resp.StatusCode != want {
		n.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			n.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
}

// lastAudit returns the newest audit entry of action.
func (n *node) lastAudit(action string) connecthub.AuditEntry {
	n.t.Helper()
	var page struct{ Entries []connecthub.AuditEntry }
	n.adminJSON(http.MethodGet, "/api/v1/audit?limit=1&action="+action, "", http.StatusOK, &page)
	if len(page.Entries) == 0 {
		n.t.Fatalf("no %s entry in the audit log", action)
	}
	return page.Entries[0]
}

// TestOIDCSignIn signs people in through a local OpenID Connect provider:
// the first sign-in creates the user with the role its groups map to, the
// next one finds the same user (renamed at the issuer) and re-syncs the
// role, and every answer that does not hold up is refused with a page that
// says why and a login.failed entry with the reason and the address.
func TestOIDCSignIn(t *testing.T) {
	t.Parallel()
	idp := ssotest.New(t, "connecthub", oidcSecret)
	n := oidcNode(t, idp)
	_, page := n.get(clientFrom(t, "127.0.0.3"), "/admin/login")
	if !strings.Contains(page, "Keycloak") || !strings.Contains(page, `href="/admin/oidc/start?next=%2fadmin%2f"`) {
		t.Fatalf("the login page has no single sign-on button:\n%s", page)
	}
	meimei := ssotest.Login{Subject: "kc-0001", Claims: map[string]any{"preferred_username": "han.meimei", "name": "韩梅梅",
		"email": "meimei@example.com", "groups": []string{"staff", "ops"}}}

	t.Run("first sign-in creates the user", func(t *testing.T) {
		idp.SetLogin(meimei)
		browser := clientFrom(t, "127.0.0.3")
		resp, body := n.oidcSignIn(browser, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/jobs" {
			t.Fatalf("callback: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		var me connecthub.Principal
		resp, body = n.get(browser, "/api/v1/me")
		if err := json.Unmarshal([]byte(body), &me); err != nil || resp.StatusCode != 200 || me.User != "han.meimei" || me.Role != connecthub.RoleOperator {
			t.Fatalf("/api/v1/me after the sign-in: %d %s", resp.StatusCode, body)
		}
		var u connecthub.User
		n.adminJSON(http.MethodGet, "/api/v1/users/han.meimei", "", 200, &u)
		if u.Role != connecthub.RoleOperator || u.DisplayName != "韩梅梅" || u.LastLoginAt == nil || u.Disabled {
			t.Errorf("the new user: %+v", u)
		}
		e := n.lastAudit("login.ok")
		if e.Actor != "han.meimei" || e.Client != "127.0.0.3" || !strings.HasPrefix(e.Detail, "oidc") ||
			len(e.Changes) == 0 || e.Changes[0] != (connecthub.AuditChange{Field: "role", After: "operator"}) {
			t.Errorf("login.ok entry: %+v", e)
		}
	})

	t.Run("second sign-in keeps the user and re-syncs its role", func(t *testing.T) {
		renamed := meimei
		renamed.Claims = map[string]any{"preferred_username": "meimei.han", "groups": []string{"ops-admins", "ops"}}
		idp.SetLogin(renamed)
		browser := clientFrom(t, "127.0.0.4")
		if resp, body := n.oidcSignIn(browser, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("callback: %d %s", resp.StatusCode, body)
		}
		var me connecthub.Principal
		_, body := n.get(browser, "/api/v1/me")
		if err := json.Unmarshal([]byte(body), &me); err != nil || me.User != "han.meimei" || me.Role != connecthub.RoleAdmin {
			t.Fatalf("/api/v1/me: %s", body)
		}
		n.adminJSON(http.MethodGet, "/api/v1/users/meimei.han", "", http.StatusNotFound, nil)
		e := n.lastAudit("login.ok")
		if e.Actor != "han.meimei" || len(e.Changes) != 1 || e.Changes[0] != (connecthub.AuditChange{Field: "role", Before: "operator", After: "admin"}) {
			t.Errorf("login.ok entry of the role change: %+v", e)
		}
	})

	n.adminJSON(http.MethodPost, "/api/v1/users", `{"username":"li.lei","role":"viewer","password":"li lei's password"}`, 201, nil)
	otherBrowser := func(*url.URL) *http.Client { return clientFrom(t, "127.0.0.5") }
	setState := func(cb *url.URL) *http.Client {
		q := cb.Query()
		q.Set("state", "forged-state")
		cb.RawQuery = q.Encode()
		return nil
	}
	with := func(change func(l *ssotest.Login)) ssotest.Login {
		l := meimei
		change(&l)
		return l
	}
	refusals := []struct {
		name    string
		login   ssotest.Login
		tamper  func(*url.URL) *http.Client
		setup   func()
		status  int
		reason  string
		message string
	}{
		{name: "wrong state", login: meimei, tamper: setState, status: 400, reason: "state", message: "took too long"},
		{name: "callback in another browser", login: meimei, tamper: otherBrowser, status: 400, reason: "state", message: "another browser"},
		{name: "wrong nonce", login: with(func(l *ssotest.Login) { l.Nonce = "nonce-of-another-sign-in" }), status: 401, reason: "nonce",
			message: "does not belong to this sign-in"},
		{name: "wrong issuer", login: with(func(l *ssotest.Login) { l.Issuer = "http://127.0.0.1:1/realms/evil" }), status: 401, reason: "issuer",
			message: "different provider"},
		{name: "wrong audience", login: with(func(l *ssotest.Login) { l.Audience = "another-client" }), status: 401, reason: "audience",
			message: "meant for another application"},
		{name: "bad signature", login: with(func(l *ssotest.Login) { l.ForeignKey = true }), status: 401, reason: "signature",
			message: "not signed by it"},
		{name: "expired token", login: with(func(l *ssotest.Login) { l.Lifetime = -time.Hour }), status: 401, reason: "expired",
			message: "has expired"},
		{name: "provider error", login: with(func(l *ssotest.Login) { l.Error = "access_denied" }), status: 401, reason: "provider",
			message: "did not sign you in"},
		{name: "username of a local user", login: ssotest.Login{Subject: "kc-0002", Claims: map[string]any{"preferred_username": "li.lei"}},
			status: 409, reason: "username_taken", message: "already exists"},
		{name: "disabled user", login: meimei, status: 403, reason: "disabled", message: "is disabled",
			setup: func() { n.adminJSON(http.MethodPatch, "/api/v1/users/han.meimei", `{"disabled":true}`, 200, nil) }},
	}
	for i, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			idp.SetLogin(tc.login)
			// Each case from its own address: forged answers use up an
			// address's budget of failed sign-ins.
			addr := fmt.Sprintf("127.0.1.%d", i+1)
			browser := clientFrom(t, addr)
			resp, body := n.oidcSignIn(browser, tc.tamper)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.message) || !strings.Contains(body, `class="notice notice-error" role="alert"`) {
				t.Fatalf("callback: %d, want %d with %q:\n%.3000s", resp.StatusCode, tc.status, tc.message, body)
			}
			if r, _ := n.get(browser, "/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("a refused sign-in left a session: /api/v1/me is %d", r.StatusCode)
			}
			e := n.lastAudit("login.failed")
			if !strings.HasPrefix(e.Detail, "oidc: "+tc.reason) || (e.Client != addr && e.Client != "127.0.0.5") {
				t.Errorf("login.failed entry: %+v, want reason %s from the browser's address", e, tc.reason)
			}
		})
	}
	// Forged answers from one address use up its budget: then its
	// callbacks are turned away (429) before they are checked or audited.
	idp.SetLogin(meimei)
	forger := clientFrom(t, "127.0.2.1")
	statuses := []int{}
	for range 7 {
		resp, _ := n.oidcSignIn(forger, setState)
		statuses = append(statuses, resp.StatusCode)
	}
	if statuses[0] != http.StatusBadRequest || statuses[6] != http.StatusTooManyRequests {
		t.Errorf("forged callbacks from one address answered %v, want 400 first and 429 once the budget is spent", statuses)
	}
	var li connecthub.User
	n.adminJSON(http.MethodGet, "/api/v1/users/li.lei", "", 200, &li)
	if li.Role != connecthub.RoleViewer || li.LastLoginAt != nil {
		t.Errorf("an issuer's account took over the local user li.lei: %+v", li)
	}
	if strings.Contains(n.logs.String(), oidcSecret) {
		t.Error("the log shows the client secret")
	}
}

// TestOIDCIssuerDownAtStart: a server whose issuer is away starts, its
// break-glass login works, a sign-in meanwhile is refused with a page
// (502) and an audit entry, and once the issuer is back the next sign-in
// discovers it and succeeds, without a restart.
func TestOIDCIssuerDownAtStart(t *testing.T) {
	t.Parallel()
	idp := ssotest.New(t, "connecthub", oidcSecret)
	idp.SetDown(true)
	n := oidcNode(t, idp)
	if st := n.login(clientFrom(t, "127.0.0.7"), nodeToken); st != http.StatusSeeOther {
		t.Fatalf("break-glass login while the issuer is down: %d", st)
	}
	browser := clientFrom(t, "127.0.0.8")
	resp, body := n.get(browser, "/admin/oidc/start")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "cannot be reached") {
		t.Fatalf("sign-in while the issuer is down: %d\n%.2000s", resp.StatusCode, body)
	}
	if e := n.lastAudit("login.failed"); !strings.HasPrefix(e.Detail, "oidc: discovery") || e.Client != "127.0.0.8" {
		t.Errorf("login.failed entry: %+v", e)
	}
	idp.SetDown(false)
	idp.SetLogin(ssotest.Login{Subject: "kc-9", Claims: map[string]any{"email": "wang.wu@example.com"}})
	if resp, body := n.oidcSignIn(browser, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in once the issuer is back: %d %s", resp.StatusCode, body)
	}
	var u connecthub.User
	n.adminJSON(http.MethodGet, "/api/v1/users/wang.wu@example.com", "", 200, &u)
	if u.Role != connecthub.RoleViewer {
		t.Errorf("a person without mapped groups: role %s, want viewer", u.Role)
	}
}
