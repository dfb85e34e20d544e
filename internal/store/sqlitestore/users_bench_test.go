package sqlitestore

import (
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// BenchmarkRequestPrincipal measures what a request made with a session
// costs the store since roles are read per request: the session lookup it
// always made, then its user's row (role and disabled), both on the reader
// pool.
func BenchmarkRequestPrincipal(b *testing.B) {
	s, _ := openTest(b)
	ctx := b.Context()
	u := &connecthub.User{Username: "li.lei", Role: connecthub.RoleOperator, CreatedAt: t0, UpdatedAt: t0}
	if err := s.UserCreate(ctx, u); err != nil {
		b.Fatal(err)
	}
	se := &connecthub.Session{ID: "ses_1", User: "li.lei", Hash: "h1", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.SessionCreate(ctx, se); err != nil {
		b.Fatal(err)
	}
	b.Run("session", func(b *testing.B) {
		for range b.N {
			if _, err := s.SessionByHash(ctx, "h1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session+user", func(b *testing.B) {
		for range b.N {
			if _, err := s.SessionByHash(ctx, "h1"); err != nil {
				b.Fatal(err)
			}
			if _, err := s.UserGet(ctx, "li.lei"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
