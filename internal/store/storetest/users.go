package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// testUser returns an enabled operator created at created.
func testUser(name string, created time.Time) *connecthub.User {
	return &connecthub.User{Username: name, DisplayName: "李雷 " + name, Role: connecthub.RoleOperator,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", CreatedAt: created, UpdatedAt: created}
}

func createUser(t *testing.T, s store.Store, u *connecthub.User) *connecthub.User {
	t.Helper()
	if err := s.UserCreate(t.Context(), u); err != nil {
		t.Fatalf("UserCreate(%s): %v", u.Username, err)
	}
	return u
}

func getUser(t *testing.T, s store.Store, name string) *connecthub.User {
	t.Helper()
	u, err := s.UserGet(t.Context(), name)
	if err != nil {
		t.Fatalf("UserGet(%s): %v", name, err)
	}
	return u
}

// checkUser compares a user as written with the user read back.
func checkUser(t *testing.T, want, got *connecthub.User) {
	t.Helper()
	checkTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	checkTime(t, "updated_at", want.UpdatedAt, got.UpdatedAt)
	checkTimePtr(t, "last_login_at", want.LastLoginAt, got.LastLoginAt)
	w, g := *want, *got
	for _, u := range []*connecthub.User{&w, &g} {
		u.CreatedAt, u.UpdatedAt, u.LastLoginAt = time.Time{}, time.Time{}, nil
	}
	if w != g {
		t.Errorf("user:\n got %+v\nwant %+v", got, want)
	}
}

func exerciseUsers(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"CreateGetList": func(t *testing.T, s store.Store) {
			b := createUser(t, s, testUser("li.lei", t0.In(shanghai)))
			a := testUser("han.meimei@example.com", t0)
			a.Role, a.Disabled, a.PasswordHash = connecthub.RoleViewer, true, ""
			createUser(t, s, a)
			checkUser(t, b, getUser(t, s, "li.lei"))
			checkUser(t, a, getUser(t, s, a.Username))
			list, err := s.UserList(t.Context())
			if err != nil || len(list) != 2 || list[0].Username != a.Username || list[1].Username != b.Username {
				t.Fatalf("UserList = %v, %v; want han.meimei@example.com, li.lei", list, err)
			}
			_, err = s.UserGet(t.Context(), "LI.LEI")
			requireKind(t, err, connecthub.KindNotFound) // exact lookups
		},
		"CreateRefusesBadInput": func(t *testing.T, s store.Store) {
			createUser(t, s, testUser("li.lei", t0))
			for name, u := range map[string]*connecthub.User{
				"duplicate":   testUser("li.lei", t0),
				"no username": testUser("", t0),
				"bad name":    testUser("li lei", t0),
				"bad role":    func() *connecthub.User { u := testUser("x", t0); u.Role = "root"; return u }(),
				"no created":  func() *connecthub.User { u := testUser("y", t0); u.CreatedAt = time.Time{}; return u }(),
				"long name":   func() *connecthub.User { u := testUser("z", t0); u.DisplayName = string(make([]byte, 200)); return u }(),
			} {
				err := s.UserCreate(t.Context(), u)
				want := connecthub.KindInvalid
				if name == "duplicate" {
					want = connecthub.KindConflict
				}
				if !connecthub.IsKind(err, want) {
					t.Errorf("%s: UserCreate = %v, want %s", name, err, want)
				}
			}
			if list, _ := s.UserList(t.Context()); len(list) != 1 {
				t.Errorf("after refused creates, %d users, want 1", len(list))
			}
		},
		"Update": func(t *testing.T, s store.Store) {
			u := createUser(t, s, testUser("li.lei", t0))
			got, err := s.UserUpdate(t.Context(), "li.lei", t0.Add(time.Minute), func(u *connecthub.User) error {
				u.Role, u.DisplayName = connecthub.RoleAdmin, "Li Lei"
				u.CreatedAt = t0.Add(time.Hour) // not the caller's to change
				return nil
			})
			if err != nil {
				t.Fatalf("UserUpdate: %v", err)
			}
			want := *u
			want.Role, want.DisplayName, want.UpdatedAt = connecthub.RoleAdmin, "Li Lei", t0.Add(time.Minute)
			checkUser(t, &want, got)
			checkUser(t, &want, getUser(t, s, "li.lei"))

			mine := errors.New("mine")
			_, err = s.UserUpdate(t.Context(), "li.lei", t0.Add(2*time.Minute), func(u *connecthub.User) error {
				u.Role = connecthub.RoleViewer
				return mine
			})
			if !errors.Is(err, mine) {
				t.Errorf("UserUpdate with fn error = %v, want it as it was", err)
			}
			_, err = s.UserUpdate(t.Context(), "li.lei", t0.Add(2*time.Minute), func(u *connecthub.User) error {
				u.Username = "someone.else"
				return nil
			})
			requireKind(t, err, connecthub.KindInvalid)
			_, err = s.UserUpdate(t.Context(), "li.lei", t0.Add(2*time.Minute), func(u *connecthub.User) error {
				u.Role = "superuser"
				return nil
			})
			requireKind(t, err, connecthub.KindInvalid)
			checkUser(t, &want, getUser(t, s, "li.lei")) // nothing written
			_, err = s.UserUpdate(t.Context(), "nobody", t0, func(*connecthub.User) error { return nil })
			requireKind(t, err, connecthub.KindNotFound)
		},
		"DisableRevokesSessionsAndPersonalTokens": func(t *testing.T, s store.Store) {
			createUser(t, s, testUser("li.lei", t0))
			createUser(t, s, testUser("han", t0))
			mine := testSession("ses_mine", t0, time.Hour)
			mine.User = "li.lei"
			createSession(t, s, mine)
			glass := testSession("ses_glass", t0, time.Hour)
			glass.User, glass.BreakGlass = "li.lei", true // the bootstrap login under the same name
			createSession(t, s, glass)
			other := testSession("ses_other", t0, time.Hour)
			other.User = "han"
			createSession(t, s, other)
			personal := testToken("tok_mine", "ci", t0)
			personal.Scope, personal.Owner = connecthub.ScopeUser, "li.lei"
			createToken(t, s, personal)
			checkToken(t, personal, tokenByHash(t, s, personal.Hash))
			if got := tokenByHash(t, s, personal.Hash); got.Owner != "li.lei" {
				t.Fatalf("owner = %q, want li.lei", got.Owner)
			}
			theirs := testToken("tok_theirs", "ci-han", t0)
			theirs.Scope, theirs.Owner = connecthub.ScopeUser, "han"
			createToken(t, s, theirs)
			worker := createToken(t, s, testToken("tok_worker", "li.lei", t0)) // a worker token named like the user

			off := t0.Add(time.Minute)
			if _, err := s.UserUpdate(t.Context(), "li.lei", off, func(u *connecthub.User) error {
				u.Disabled = true
				return nil
			}); err != nil {
				t.Fatalf("disable: %v", err)
			}
			checkTimePtr(t, "personal token revoked_at", &off, tokenByHash(t, s, personal.Hash).RevokedAt)
			checkTimePtr(t, "session revoked_at", &off, sessionByHash(t, s, mine.Hash).RevokedAt)
			for _, h := range []string{theirs.Hash, worker.Hash} {
				if tokenByHash(t, s, h).RevokedAt != nil {
					t.Errorf("token %s was revoked with another user", h)
				}
			}
			if got := sessionIDs(t, s, off); !slices.Equal(got, []string{"ses_other", "ses_glass"}) &&
				!slices.Equal(got, []string{"ses_glass", "ses_other"}) {
				t.Errorf("live sessions after the disable = %v, want ses_glass and ses_other", got)
			}
			if !sessionByHash(t, s, glass.Hash).BreakGlass {
				t.Errorf("break_glass was not kept")
			}
			// Disabling again revokes nothing new and keeps the first times.
			if _, err := s.UserUpdate(t.Context(), "li.lei", off.Add(time.Hour), func(u *connecthub.User) error {
				u.DisplayName = "gone"
				return nil
			}); err != nil {
				t.Fatalf("update a disabled user: %v", err)
			}
			checkTimePtr(t, "personal token revoked_at", &off, tokenByHash(t, s, personal.Hash).RevokedAt)
		},
		"PersonalTokenRules": func(t *testing.T, s store.Store) {
			noOwner := testToken("tok_1", "a", t0)
			noOwner.Scope = connecthub.ScopeUser
			requireKind(t, s.TokenCreate(t.Context(), noOwner), connecthub.KindInvalid)
			owned := testToken("tok_2", "b", t0)
			owned.Scope, owned.Owner = connecthub.ScopeAdmin, "li.lei"
			requireKind(t, s.TokenCreate(t.Context(), owned), connecthub.KindInvalid)
			bound := testToken("tok_3", "c", t0)
			bound.Scope, bound.Owner, bound.Queues = connecthub.ScopeUser, "li.lei", []string{"q"}
			requireKind(t, s.TokenCreate(t.Context(), bound), connecthub.KindInvalid)
		},
		"LoggedIn": func(t *testing.T, s store.Store) {
			u := createUser(t, s, testUser("li.lei", t0))
			at := t0.Add(time.Hour).In(shanghai)
			if err := s.UserLoggedIn(t.Context(), "li.lei", at); err != nil {
				t.Fatalf("UserLoggedIn: %v", err)
			}
			want := *u
			want.LastLoginAt = &at
			checkUser(t, &want, getUser(t, s, "li.lei"))
			requireKind(t, s.UserLoggedIn(t.Context(), "nobody", at), connecthub.KindNotFound)
			requireKind(t, s.UserLoggedIn(t.Context(), "li.lei", time.Time{}), connecthub.KindInvalid)
		},
	})
}
