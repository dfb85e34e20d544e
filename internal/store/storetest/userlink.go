package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// linkMarked reports whether username carries the link mark.
func linkMarked(t *testing.T, s store.Store, username string) bool {
	t.Helper()
	marks, err := s.OIDCLinkMarks(t.Context())
	if err != nil {
		t.Fatalf("OIDCLinkMarks: %v", err)
	}
	return marks[username]
}

// exerciseUserUpdateLink checks UserUpdateLink: the user's fields and its
// link mark change in one transaction, and a refusal of either changes
// neither.
func exerciseUserUpdateLink(t *testing.T, newStore NewStoreFunc) {
	later := t0.Add(time.Minute)
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"FieldsAndMarkTogether": func(t *testing.T, s store.Store) {
			createUser(t, s, testUser("li.lei", t0))
			var sawMark bool
			e := testAudit("user.update", "user:li.lei", later)
			u, err := s.UserUpdateLink(store.WithAudit(t.Context(), e), "li.lei", later, func(u *connecthub.User) error {
				sawMark = u.OIDCLinkAllowed
				u.Role, u.OIDCLinkAllowed = connecthub.RoleAdmin, true
				return nil
			})
			if err != nil || sawMark || !u.OIDCLinkAllowed || u.Role != connecthub.RoleAdmin {
				t.Fatalf("UserUpdateLink = %+v, %v (fn saw the mark: %v); want an admin with the mark", u, err, sawMark)
			}
			checkTime(t, "updated_at", later, u.UpdatedAt)
			if got := getUser(t, s, "li.lei"); got.Role != connecthub.RoleAdmin || !linkMarked(t, s, "li.lei") {
				t.Errorf("after the update: role %s, mark %v", got.Role, linkMarked(t, s, "li.lei"))
			}
			if list, _ := auditList(t, s, connecthub.AuditFilter{Target: "user:li.lei"}); len(list) != 1 {
				t.Errorf("audit of the update = %+v, want its one entry", list)
			}
			// fn sees the mark, and clearing it with a field clears both.
			u, err = s.UserUpdateLink(t.Context(), "li.lei", later, func(u *connecthub.User) error {
				sawMark = u.OIDCLinkAllowed
				u.DisplayName, u.OIDCLinkAllowed = "Li Lei", false
				return nil
			})
			if err != nil || !sawMark || u.OIDCLinkAllowed || u.DisplayName != "Li Lei" || linkMarked(t, s, "li.lei") {
				t.Fatalf("clearing = %+v, %v (fn saw the mark: %v, still marked: %v)", u, err, sawMark, linkMarked(t, s, "li.lei"))
			}
			// Leaving the mark as it is writes only the fields.
			if u, err = s.UserUpdateLink(t.Context(), "li.lei", later, func(u *connecthub.User) error {
				u.Disabled = true
				return nil
			}); err != nil || !u.Disabled || u.OIDCLinkAllowed || linkMarked(t, s, "li.lei") {
				t.Fatalf("a fields-only update = %+v, %v", u, err)
			}
		},
		"RefusalWritesNothing": func(t *testing.T, s store.Store) {
			createUser(t, s, testUser("li.lei", t0))
			if _, err := s.OIDCSignIn(t.Context(), oidcSignIn("sub-1", "han.meimei", connecthub.RoleViewer), t0, nil); err != nil {
				t.Fatal(err)
			}
			mine := errors.New("refused by fn")
			for _, tc := range []struct {
				name, user string
				fn         func(u *connecthub.User) error
				check      func(t *testing.T, err error)
			}{
				{"FnError", "li.lei", func(u *connecthub.User) error {
					u.Role, u.OIDCLinkAllowed = connecthub.RoleAdmin, true
					return mine
				}, func(t *testing.T, err error) {
					if !errors.Is(err, mine) {
						t.Fatalf("err = %v, want fn's own", err)
					}
				}},
				{"BadRole", "li.lei", func(u *connecthub.User) error {
					u.Role, u.OIDCLinkAllowed = "emperor", true
					return nil
				}, func(t *testing.T, err error) { requireKind(t, err, connecthub.KindInvalid) }},
				{"AlreadyLinked", "han.meimei", func(u *connecthub.User) error {
					u.Role, u.OIDCLinkAllowed = connecthub.RoleAdmin, true
					return nil
				}, func(t *testing.T, err error) {
					requireCode(t, err, connecthub.KindConflict, "oidc_linked", "han.meimei")
				}},
				{"NoSuchUser", "nobody", func(u *connecthub.User) error {
					u.OIDCLinkAllowed = true
					return nil
				}, func(t *testing.T, err error) { requireKind(t, err, connecthub.KindNotFound) }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e := testAudit("user.update", "user:"+tc.user, later)
					_, err := s.UserUpdateLink(store.WithAudit(t.Context(), e), tc.user, later, tc.fn)
					tc.check(t, err)
					if linkMarked(t, s, tc.user) {
						t.Errorf("%s carries the mark after a refused update", tc.user)
					}
					if tc.user != "nobody" {
						if got := getUser(t, s, tc.user); got.Role == connecthub.RoleAdmin || got.Role == "emperor" || !got.UpdatedAt.Equal(t0.Truncate(time.Microsecond)) {
							t.Errorf("%s after a refused update: role %s, updated_at %v", tc.user, got.Role, got.UpdatedAt)
						}
					}
					if list, _ := auditList(t, s, connecthub.AuditFilter{Target: "user:" + tc.user}); len(list) != 0 {
						t.Errorf("audit after a refused update = %+v, want none", list)
					}
				})
			}
			// The linked user keeps its account.
			ids, err := s.OIDCIdentities(t.Context(), "han.meimei")
			if linked, allowed := store.OIDCLinkAllowed(ids); err != nil || allowed || len(linked) != 1 {
				t.Errorf("identities of the linked user = %+v, %v", ids, err)
			}
		},
		"UserUpdateLeavesTheMark": func(t *testing.T, s store.Store) {
			createUser(t, s, testUser("li.lei", t0))
			if _, err := s.OIDCAllowLink(t.Context(), "li.lei", true, t0); err != nil {
				t.Fatal(err)
			}
			u, err := s.UserUpdate(t.Context(), "li.lei", later, func(u *connecthub.User) error {
				u.OIDCLinkAllowed = false // not UserUpdate's to write
				u.DisplayName = "Li Lei"
				return nil
			})
			if err != nil || u.DisplayName != "Li Lei" || !linkMarked(t, s, "li.lei") {
				t.Fatalf("UserUpdate = %+v, %v; the mark is kept: %v", u, err, linkMarked(t, s, "li.lei"))
			}
		},
	})
}
