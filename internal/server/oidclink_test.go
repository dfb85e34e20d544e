package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/sso/ssotest"
)

// TestOIDCLinkLocalUser: a local user's username is refused to a first
// single sign-on (409) until an admin allows the link; the next sign-in
// under that name then binds the account to the user, once (the mark
// clears), and both steps are audited. A second account of the name is
// refused again, and the linked account keeps signing in.
func TestOIDCLinkLocalUser(t *testing.T) {
	t.Parallel()
	idp := ssotest.New(t, "connecthub", oidcSecret)
	n := oidcNode(t, idp)
	n.adminJSON(http.MethodPost, "/api/v1/users", `{"username":"li.lei","role":"viewer","password":"li lei's password"}`, 201, nil)
	liLei := ssotest.Login{Subject: "kc-0100", Claims: map[string]any{"preferred_username": "li.lei", "groups": []string{"ops"}}}
	signIn := func(addr string, l ssotest.Login, want int) *http.Client {
		t.Helper()
		idp.SetLogin(l)
		browser := clientFrom(t, addr)
		if resp, body := n.oidcSignIn(browser, nil); resp.StatusCode != want {
			t.Fatalf("sign-in of %s from %s: %d, want %d\n%.2000s", l.Subject, addr, resp.StatusCode, want, body)
		}
		return browser
	}
	userOf := func() connecthub.User {
		t.Helper()
		var u connecthub.User
		n.adminJSON(http.MethodGet, "/api/v1/users/li.lei", "", 200, &u)
		return u
	}

	signIn("127.0.3.1", liLei, http.StatusConflict)

	// A patch refused for another of its fields changes nothing, the mark
	// included.
	n.adminJSON(http.MethodPatch, "/api/v1/users/li.lei", `{"allow_oidc_link":true,"role":"emperor"}`, 400, nil)
	if u := userOf(); u.OIDCLinkAllowed || u.Role != connecthub.RoleViewer {
		t.Fatalf("a refused patch changed the user: %+v", u)
	}

	var u connecthub.User
	n.adminJSON(http.MethodPatch, "/api/v1/users/li.lei", `{"allow_oidc_link":true}`, 200, &u)
	if !u.OIDCLinkAllowed || u.Role != connecthub.RoleViewer {
		t.Fatalf("after allowing the link: %+v", u)
	}
	if e := n.lastAudit("user.oidc_link"); e.Target != "user:li.lei" ||
		len(e.Changes) != 1 || e.Changes[0] != (connecthub.AuditChange{Field: "oidc_link", Before: "not allowed", After: "allowed"}) {
		t.Errorf("user.oidc_link entry: %+v", e)
	}

	browser := signIn("127.0.3.2", liLei, http.StatusSeeOther)
	var me connecthub.Principal
	if _, body := n.get(browser, "/api/v1/me"); json.Unmarshal([]byte(body), &me) != nil || me.User != "li.lei" || me.Role != connecthub.RoleOperator {
		t.Fatalf("/api/v1/me after the linking sign-in: %s", body)
	}
	e := n.lastAudit("login.ok")
	if e.Actor != "li.lei" || !strings.Contains(e.Detail, "linked the local user to "+idp.URL+" subject kc-0100") || len(e.Changes) != 2 ||
		e.Changes[0] != (connecthub.AuditChange{Field: "oidc_link", Before: "allowed", After: "linked"}) ||
		e.Changes[1] != (connecthub.AuditChange{Field: "role", Before: "viewer", After: "operator"}) {
		t.Errorf("login.ok entry of the link: %+v", e)
	}
	if u := userOf(); u.OIDCLinkAllowed || u.LastLoginAt == nil {
		t.Errorf("the mark outlived the link: %+v", u)
	}

	// Once: another account reporting the name is refused again, and the
	// linked user cannot be marked anew.
	signIn("127.0.3.3", ssotest.Login{Subject: "kc-0101", Claims: map[string]any{"preferred_username": "li.lei", "groups": []string{"ops-admins"}}},
		http.StatusConflict)
	if u := userOf(); u.Role != connecthub.RoleOperator {
		t.Errorf("a second account changed the linked user: %+v", u)
	}
	n.adminJSON(http.MethodPatch, "/api/v1/users/li.lei", `{"allow_oidc_link":true}`, http.StatusConflict, nil)
	n.adminJSON(http.MethodPatch, "/api/v1/users/li.lei", `{"allow_oidc_link":true,"display_name":"Li Lei"}`, http.StatusConflict, nil)
	if u := userOf(); u.DisplayName != "" || u.OIDCLinkAllowed {
		t.Errorf("a patch refused for its mark changed the user: %+v", u)
	}
	signIn("127.0.3.4", liLei, http.StatusSeeOther)

	// Withdrawing a mark before it is used keeps the refusal.
	n.adminJSON(http.MethodPost, "/api/v1/users", `{"username":"han.meimei","role":"viewer","password":"han meimei's password"}`, 201, nil)
	// A mark and a field in one patch: one transaction, one audit entry.
	n.adminJSON(http.MethodPatch, "/api/v1/users/han.meimei", `{"allow_oidc_link":true,"role":"operator"}`, 200, &u)
	if !u.OIDCLinkAllowed || u.Role != connecthub.RoleOperator {
		t.Fatalf("after a patch of the role and the mark: %+v", u)
	}
	if e := n.lastAudit("user.update"); e.Target != "user:han.meimei" || len(e.Changes) != 2 ||
		e.Changes[0] != (connecthub.AuditChange{Field: "role", Before: "viewer", After: "operator"}) ||
		e.Changes[1] != (connecthub.AuditChange{Field: "oidc_link", Before: "not allowed", After: "allowed"}) {
		t.Errorf("user.update entry of the role and the mark: %+v", e)
	}
	n.adminJSON(http.MethodPatch, "/api/v1/users/han.meimei", `{"allow_oidc_link":false}`, 200, &u)
	if u.OIDCLinkAllowed {
		t.Errorf("withdrawing the link left it allowed: %+v", u)
	}
	signIn("127.0.3.5", ssotest.Login{Subject: "kc-0102", Claims: map[string]any{"preferred_username": "han.meimei"}}, http.StatusConflict)
}
