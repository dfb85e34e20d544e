package token

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// memStore is an in-memory Store with the contract's error kinds.
type memStore struct {
	mu      sync.Mutex
	tokens  []*connecthub.Token
	touches int
}

func (m *memStore) TokenCreate(_ context.Context, t *connecthub.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.tokens {
		if o.ID == t.ID || o.Name == t.Name {
			return connecthub.Errorf(connecthub.KindConflict, "token exists")
		}
	}
	c := *t
	m.tokens = append(m.tokens, &c)
	return nil
}

func (m *memStore) TokenByHash(_ context.Context, hash string) (*connecthub.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tokens {
		if t.Hash == hash {
			c := *t
			return &c, nil
		}
	}
	return nil, connecthub.NotFound("token", hash)
}

func (m *memStore) TokenList(context.Context) ([]*connecthub.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*connecthub.Token(nil), m.tokens...), nil
}

func (m *memStore) TokenRevoke(_ context.Context, idOrName string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tokens {
		if t.ID == idOrName || t.Name == idOrName {
			if t.RevokedAt == nil {
				t.RevokedAt = &now
			}
			return nil
		}
	}
	return connecthub.NotFound("token", idOrName)
}

func (m *memStore) TokenTouch(_ context.Context, id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.touches++
	for _, t := range m.tokens {
		if t.ID == id {
			t.LastUsedAt = &now
		}
	}
	return nil
}

func newService(t *testing.T) (*Service, *memStore) {
	t.Helper()
	st := &memStore{}
	s, err := New(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		scope, wantScope, prefix string
	}{
		{"", connecthub.ScopeWorker, PrefixWorker},
		{connecthub.ScopeWorker, connecthub.ScopeWorker, PrefixWorker},
		{connecthub.ScopeAdmin, connecthub.ScopeAdmin, PrefixAdmin},
	}
	for _, tt := range tests {
		t.Run(tt.wantScope+"/"+tt.scope, func(t *testing.T) {
			t.Parallel()
			s, st := newService(t)
			tok, secret, err := s.Create(ctx, "  w1 ", tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Scope != tt.wantScope || tok.Name != "w1" || !strings.HasPrefix(tok.ID, "tok_") || tok.CreatedAt.IsZero() {
				t.Errorf("token = %+v", tok)
			}
			if !strings.HasPrefix(secret, tt.prefix) || len(secret) != len(tt.prefix)+43 {
				t.Errorf("secret %q: want %s and 43 characters of base64url", secret, tt.prefix)
			}
			if st.tokens[0].Hash != Hash(secret) || strings.Contains(st.tokens[0].Hash, secret) {
				t.Error("the store must hold the SHA-256 of the secret, never the secret")
			}
			got, err := s.Authenticate(ctx, secret)
			if err != nil || got == nil || got.ID != tok.ID || got.Scope != tt.wantScope {
				t.Fatalf("Authenticate = %+v, %v", got, err)
			}
			if st.touches != 1 {
				t.Errorf("last use recorded %d times, want 1", st.touches)
			}
			for _, bad := range []string{"", secret + "x", strings.TrimPrefix(secret, tt.prefix)} {
				if got, err := s.Authenticate(ctx, bad); got != nil || err != nil {
					t.Errorf("Authenticate(%q) = %+v, %v; want nil, nil", bad, got, err)
				}
			}
			if err := s.Revoke(ctx, "w1"); err != nil {
				t.Fatal(err)
			}
			if err := s.Revoke(ctx, tok.ID); err != nil {
				t.Errorf("revoking twice: %v", err)
			}
			if got, err := s.Authenticate(ctx, secret); got != nil || err != nil {
				t.Errorf("a revoked token authenticated: %+v, %v", got, err)
			}
		})
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	if _, _, err := s.Create(ctx, "taken", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tokName, scope string
		kind                 connecthub.Kind
		field                string
	}{
		{"empty name", "", "", connecthub.KindInvalid, "name"},
		{"spaces in name", "a b", "", connecthub.KindInvalid, "name"},
		{"name like an id", "tok_abc", "", connecthub.KindInvalid, "name"},
		{"long name", strings.Repeat("x", 129), "", connecthub.KindInvalid, "name"},
		{"unknown scope", "n", "root", connecthub.KindInvalid, "scope"},
		{"duplicate name", "taken", "", connecthub.KindConflict, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Create(ctx, tt.tokName, tt.scope)
			var e *connecthub.Error
			if !errors.As(err, &e) || e.Kind != tt.kind || e.Field != tt.field {
				t.Errorf("Create(%q, %q) = %v; want %s on %s", tt.tokName, tt.scope, err, tt.kind, tt.field)
			}
		})
	}
	if err := s.Revoke(ctx, "nobody"); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Errorf("Revoke(unknown) = %v, want not found", err)
	}
	if err := s.Revoke(ctx, " "); !connecthub.IsKind(err, connecthub.KindInvalid) {
		t.Errorf("Revoke(blank) = %v, want invalid", err)
	}
}

// TestCreateBound checks that a worker token shows the binding it gets:
// the defaults (its name, the default queue) or what was asked.
func TestCreateBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, prefix string
		queues       []string
		wantPrefix   string
		wantQueues   []string
	}{
		{"defaults", "", nil, "w1", []string{connecthub.DefaultQueue}},
		{"chosen", " edge- ", []string{"erp", "crm"}, "edge-", []string{"erp", "crm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, st := newService(t)
			tok, _, err := s.CreateBound(t.Context(), "w1", "", tt.queues, tt.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if tok.NodePrefix != tt.wantPrefix || !slices.Equal(tok.Queues, tt.wantQueues) {
				t.Errorf("token bound to %q, %q; want %q, %q", tok.NodePrefix, tok.Queues, tt.wantPrefix, tt.wantQueues)
			}
			if got := st.tokens[0]; got.NodePrefix != tt.wantPrefix || !slices.Equal(got.Queues, tt.wantQueues) {
				t.Errorf("stored token bound to %q, %q", got.NodePrefix, got.Queues)
			}
		})
	}
}
