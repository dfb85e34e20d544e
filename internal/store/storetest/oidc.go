package storetest

import (
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

const testIssuer = "https://sso.example.com/realms/ops"

func oidcSignIn(sub, username string, role connecthub.Role) store.OIDCSignIn {
	return store.OIDCSignIn{Issuer: testIssuer, Subject: sub, Username: username, DisplayName: "韩梅梅", Role: role}
}

func exerciseOIDC(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"FirstSignInCreatesLaterOnesSync": func(t *testing.T, s store.Store) {
			var before, after *connecthub.User
			seen := func(b, a *connecthub.User, _ bool) { before, after = b, a }
			u, err := s.OIDCSignIn(t.Context(), oidcSignIn("sub-1", "han.meimei", connecthub.RoleOperator), t0, seen)
			if err != nil || before != nil || after == nil || after.Username != "han.meimei" {
				t.Fatalf("first sign-in = %+v, %v (fn saw %+v → %+v)", u, err, before, after)
			}
			want := &connecthub.User{Username: "han.meimei", DisplayName: "韩梅梅", Role: connecthub.RoleOperator,
				CreatedAt: t0, UpdatedAt: t0, LastLoginAt: &t0}
			checkUser(t, want, getUser(t, s, "han.meimei"))
			// The issuer renamed the person and lowered the role: the
			// link decides who signs in, the role follows the claims.
			later := t0.Add(time.Hour)
			in := oidcSignIn("sub-1", "meimei.han", connecthub.RoleViewer)
			in.DisplayName = "other"
			u, err = s.OIDCSignIn(t.Context(), in, later, seen)
			if err != nil || u.Username != "han.meimei" || before == nil || before.Role != connecthub.RoleOperator {
				t.Fatalf("second sign-in = %+v, %v (before %+v)", u, err, before)
			}
			want.Role, want.UpdatedAt, want.LastLoginAt = connecthub.RoleViewer, later, &later
			checkUser(t, want, getUser(t, s, "han.meimei"))
			if _, err := s.UserGet(t.Context(), "meimei.han"); !connecthub.IsKind(err, connecthub.KindNotFound) {
				t.Errorf("a renamed account made a second user: %v", err)
			}
			ids, err := s.OIDCIdentities(t.Context(), "han.meimei")
			if err != nil || len(ids) != 1 || ids[0].Issuer != testIssuer || ids[0].Subject != "sub-1" {
				t.Fatalf("OIDCIdentities = %+v, %v", ids, err)
			}
			checkTime(t, "identity created_at", t0, ids[0].CreatedAt)
			// The same subject at another issuer is another person.
			other := oidcSignIn("sub-1", "han.meimei", connecthub.RoleAdmin)
			other.Issuer = "https://other.example.com"
			_, err = s.OIDCSignIn(t.Context(), other, later, nil)
			requireKind(t, err, connecthub.KindConflict)
			if getUser(t, s, "han.meimei").Role != connecthub.RoleViewer {
				t.Error("a refused sign-in changed the user")
			}
		},
		"TakenUsernameAndDisabledUserAreRefused": func(t *testing.T, s store.Store) {
			createUser(t, s, testUser("li.lei", t0))
			_, err := s.OIDCSignIn(t.Context(), oidcSignIn("sub-2", "li.lei", connecthub.RoleAdmin), t0, nil)
			requireKind(t, err, connecthub.KindConflict)
			if u := getUser(t, s, "li.lei"); u.Role != connecthub.RoleOperator || u.LastLoginAt != nil {
				t.Errorf("a local user was taken over: %+v", u)
			}
			if ids, _ := s.OIDCIdentities(t.Context(), "li.lei"); len(ids) != 0 {
				t.Errorf("a refused first sign-in left a link: %+v", ids)
			}
			if _, err := s.OIDCSignIn(t.Context(), oidcSignIn("sub-3", "wang.wu", connecthub.RoleViewer), t0, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.UserUpdate(t.Context(), "wang.wu", t0, func(u *connecthub.User) error { u.Disabled = true; return nil }); err != nil {
				t.Fatal(err)
			}
			called := false
			_, err = s.OIDCSignIn(t.Context(), oidcSignIn("sub-3", "wang.wu", connecthub.RoleAdmin), t0.Add(time.Minute),
				func(_, _ *connecthub.User, _ bool) { called = true })
			requireKind(t, err, connecthub.KindForbidden)
			if u := getUser(t, s, "wang.wu"); u.Role != connecthub.RoleViewer || !u.Disabled || called {
				t.Errorf("a disabled user's sign-in changed it: %+v (fn called: %v)", u, called)
			}
		},
		"LinkMarkLinksALocalUserOnce": func(t *testing.T, s store.Store) {
			createUser(t, s, testUser("li.lei", t0))
			e := testAudit("user.oidc_link", "user:li.lei", t0)
			if changed, err := s.OIDCAllowLink(store.WithAudit(t.Context(), e), "li.lei", true, t0); err != nil || !changed {
				t.Fatalf("OIDCAllowLink = %v, %v", changed, err)
			}
			if list, _ := auditList(t, s, connecthub.AuditFilter{Target: "user:li.lei"}); len(list) != 1 {
				t.Errorf("audit of the mark = %+v, want one entry", list)
			}
			if changed, err := s.OIDCAllowLink(t.Context(), "li.lei", true, t0); err != nil || changed {
				t.Errorf("marking again = %v, %v, want no change", changed, err)
			}
			ids, err := s.OIDCIdentities(t.Context(), "li.lei")
			if linked, allowed := store.OIDCLinkAllowed(ids); err != nil || !allowed || len(linked) != 0 {
				t.Fatalf("identities of a marked user = %+v, %v", ids, err)
			}
			createUser(t, s, testUser("han.mei", t0))
			if marks, err := s.OIDCLinkMarks(t.Context()); err != nil || len(marks) != 1 || !marks["li.lei"] {
				t.Errorf("OIDCLinkMarks = %v, %v; want li.lei alone", marks, err)
			}
			// The issuer cannot pose as the mark.
			_, err = s.OIDCSignIn(t.Context(), store.OIDCSignIn{Issuer: store.OIDCLinkIssuer, Subject: "li.lei", Username: "li.lei", Role: connecthub.RoleAdmin}, t0, nil)
			requireKind(t, err, connecthub.KindInvalid)
			later := t0.Add(time.Hour)
			var sawLink bool
			u, err := s.OIDCSignIn(t.Context(), oidcSignIn("sub-9", "li.lei", connecthub.RoleViewer), later,
				func(b, _ *connecthub.User, linked bool) {
					sawLink = linked && b != nil && b.Role == connecthub.RoleOperator
				})
			if err != nil || u.Username != "li.lei" || u.Role != connecthub.RoleViewer || !sawLink {
				t.Fatalf("the marked sign-in = %+v, %v (fn saw the link: %v)", u, err, sawLink)
			}
			if got := getUser(t, s, "li.lei"); got.PasswordHash == "" || got.LastLoginAt == nil {
				t.Errorf("the linked user lost its password or its sign-in time: %+v", got)
			} else {
				checkTime(t, "the linked user's last_login_at", later, *got.LastLoginAt)
			}
			ids, _ = s.OIDCIdentities(t.Context(), "li.lei")
			if linked, allowed := store.OIDCLinkAllowed(ids); allowed || len(linked) != 1 || linked[0].Subject != "sub-9" {
				t.Fatalf("identities after the link = %+v, want sub-9 and no mark", ids)
			}
			if marks, err := s.OIDCLinkMarks(t.Context()); err != nil || marks == nil || len(marks) != 0 {
				t.Errorf("OIDCLinkMarks after the link = %v, %v; want an empty set", marks, err)
			}
			// Once: another account of the name is refused, and the user
			// cannot be marked while it is linked.
			_, err = s.OIDCSignIn(t.Context(), oidcSignIn("sub-10", "li.lei", connecthub.RoleAdmin), later, nil)
			requireKind(t, err, connecthub.KindConflict)
			_, err = s.OIDCAllowLink(t.Context(), "li.lei", true, later)
			requireCode(t, err, connecthub.KindConflict, "oidc_linked", "li.lei")
			if changed, err := s.OIDCAllowLink(t.Context(), "li.lei", false, later); err != nil || changed {
				t.Errorf("clearing a linked user's mark = %v, %v, want no change", changed, err)
			}
			_, err = s.OIDCAllowLink(t.Context(), "nobody", true, later)
			requireKind(t, err, connecthub.KindNotFound)
		},
		"LinkMarkClearsAndSparesDisabledUsers": func(t *testing.T, s store.Store) {
			createUser(t, s, testUser("wang.wu", t0))
			if _, err := s.OIDCAllowLink(t.Context(), "wang.wu", true, t0); err != nil {
				t.Fatal(err)
			}
			if changed, err := s.OIDCAllowLink(t.Context(), "wang.wu", false, t0); err != nil || !changed {
				t.Fatalf("clearing the mark = %v, %v", changed, err)
			}
			_, err := s.OIDCSignIn(t.Context(), oidcSignIn("sub-11", "wang.wu", connecthub.RoleAdmin), t0, nil)
			requireKind(t, err, connecthub.KindConflict)
			if _, err := s.OIDCAllowLink(t.Context(), "wang.wu", true, t0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.UserUpdate(t.Context(), "wang.wu", t0, func(u *connecthub.User) error { u.Disabled = true; return nil }); err != nil {
				t.Fatal(err)
			}
			_, err = s.OIDCSignIn(t.Context(), oidcSignIn("sub-11", "wang.wu", connecthub.RoleAdmin), t0, nil)
			requireKind(t, err, connecthub.KindForbidden)
			ids, _ := s.OIDCIdentities(t.Context(), "wang.wu")
			if linked, allowed := store.OIDCLinkAllowed(ids); !allowed || len(linked) != 0 {
				t.Errorf("a disabled user's refused sign-in used its mark: %+v", ids)
			}
		},
		"BadInputAndAudit": func(t *testing.T, s store.Store) {
			for name, in := range map[string]store.OIDCSignIn{
				"no issuer":  {Subject: "s", Username: "a", Role: connecthub.RoleViewer},
				"no subject": {Issuer: testIssuer, Username: "a", Role: connecthub.RoleViewer},
				"bad role":   {Issuer: testIssuer, Subject: "s", Username: "a", Role: "root"},
				"bad name":   {Issuer: testIssuer, Subject: "s", Username: "a b", Role: connecthub.RoleViewer},
				"nul":        {Issuer: testIssuer, Subject: "s\x00", Username: "a", Role: connecthub.RoleViewer},
			} {
				_, err := s.OIDCSignIn(t.Context(), in, t0, nil)
				if !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("%s: OIDCSignIn = %v, want an invalid-input error", name, err)
				}
			}
			e := testAudit("login.ok", "user:zhao.liu", t0)
			ctx := store.WithAudit(t.Context(), e)
			if _, err := s.OIDCSignIn(ctx, oidcSignIn("sub-4", "zhao.liu", connecthub.RoleViewer), t0,
				func(_, a *connecthub.User, _ bool) { e.Detail = "oidc, role " + string(a.Role) }); err != nil {
				t.Fatal(err)
			}
			list, _ := auditList(t, s, connecthub.AuditFilter{Target: "user:zhao.liu"})
			if len(list) != 1 || list[0].Detail != "oidc, role viewer" {
				t.Errorf("audit of the sign-in = %+v, want one entry completed inside the transaction", list)
			}
		},
	})
}
