package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// testToken returns a live worker token created at created.
func testToken(id, name string, created time.Time) *connecthub.Token {
	return &connecthub.Token{
		ID:        id,
		Name:      name,
		Scope:     connecthub.ScopeWorker,
		Hash:      "sha256-of-" + id,
		CreatedAt: created,
	}
}

func createToken(t *testing.T, s store.Store, tok *connecthub.Token) *connecthub.Token {
	t.Helper()
	if err := s.TokenCreate(t.Context(), tok); err != nil {
		t.Fatalf("TokenCreate(%s): %v", tok.ID, err)
	}
	return tok
}

func tokenByHash(t *testing.T, s store.Store, hash string) *connecthub.Token {
	t.Helper()
	tok, err := s.TokenByHash(t.Context(), hash)
	if err != nil {
		t.Fatalf("TokenByHash(%s): %v", hash, err)
	}
	return tok
}

func tokenIDs(tokens []*connecthub.Token) []string {
	out := make([]string, len(tokens))
	for i, tok := range tokens {
		out[i] = tok.ID
	}
	return out
}

// checkToken compares a token as created with the token read back.
func checkToken(t *testing.T, want, got *connecthub.Token) {
	t.Helper()
	if got == nil {
		t.Fatalf("token %s is nil", want.ID)
	}
	if got.ID != want.ID || got.Name != want.Name || got.Scope != want.Scope || got.Hash != want.Hash {
		t.Errorf("token:\n got %+v\nwant %+v", got, want)
	}
	checkTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	checkTimePtr(t, "last_used_at", want.LastUsedAt, got.LastUsedAt)
	checkTimePtr(t, "revoked_at", want.RevokedAt, got.RevokedAt)
}

func exerciseTokens(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"CreateAndFindByHash": func(t *testing.T, s store.Store) {
			worker := createToken(t, s, testToken("tok_w", "ci-worker", t0.In(shanghai)))
			admin := testToken("tok_a", "deploy-bot", t0)
			admin.Scope = connecthub.ScopeAdmin
			createToken(t, s, admin)
			checkToken(t, worker, tokenByHash(t, s, worker.Hash))
			checkToken(t, admin, tokenByHash(t, s, admin.Hash))
			_, err := s.TokenByHash(t.Context(), "sha256-of-nothing")
			requireKind(t, err, connecthub.KindNotFound)
			if strings.Contains(err.Error(), "sha256-of-nothing") {
				t.Errorf("TokenByHash's error %q names the hash, a credential's fingerprint", err)
			}
		},
		"Binding": func(t *testing.T, s store.Store) {
			// A worker token without a binding gets its name as the
			// node-name prefix and the default queue; a chosen binding
			// reads back as given; an admin token has none.
			plain := createToken(t, s, testToken("tok_p", "edge", t0))
			bound := testToken("tok_b", "erp", t0)
			bound.NodePrefix, bound.Queues = "erp-worker-", []string{"erp", "default"}
			createToken(t, s, bound)
			admin := testToken("tok_adm", "ops", t0)
			admin.Scope = connecthub.ScopeAdmin
			createToken(t, s, admin)
			for _, tt := range []struct {
				tok    *connecthub.Token
				prefix string
				queues []string
			}{
				{plain, "edge", []string{connecthub.DefaultQueue}},
				{bound, "erp-worker-", []string{"erp", "default"}},
				{admin, "", nil},
			} {
				got := tokenByHash(t, s, tt.tok.Hash)
				if got.NodePrefix != tt.prefix || !slices.Equal(got.Queues, tt.queues) {
					t.Errorf("token %s: node_prefix %q, queues %q; want %q, %q", tt.tok.Name, got.NodePrefix, got.Queues, tt.prefix, tt.queues)
				}
			}
			listed, err := s.TokenList(t.Context())
			if err != nil {
				t.Fatalf("TokenList: %v", err)
			}
			for _, tok := range listed {
				if tok.ID == bound.ID && (tok.NodePrefix != bound.NodePrefix || !slices.Equal(tok.Queues, bound.Queues)) {
					t.Errorf("listed token %s: node_prefix %q, queues %q", tok.Name, tok.NodePrefix, tok.Queues)
				}
			}
		},
		"BindingRefused": func(t *testing.T, s store.Store) {
			for name, tc := range map[string]struct {
				mutate func(*connecthub.Token)
				field  string
			}{
				"admin with a prefix": {func(tok *connecthub.Token) { tok.Scope, tok.NodePrefix = connecthub.ScopeAdmin, "x" }, "scope"},
				"admin with queues":   {func(tok *connecthub.Token) { tok.Scope, tok.Queues = connecthub.ScopeAdmin, []string{"q"} }, "scope"},
				"prefix with a space": {func(tok *connecthub.Token) { tok.NodePrefix = "a b" }, "node_prefix"},
				"empty queue name":    {func(tok *connecthub.Token) { tok.Queues = []string{"q", ""} }, "queues"},
				"queue twice":         {func(tok *connecthub.Token) { tok.Queues = []string{"q", "q"} }, "queues"},
			} {
				tok := testToken("tok_r", "refused", t0)
				tc.mutate(tok)
				err := s.TokenCreate(t.Context(), tok)
				requireKind(t, err, connecthub.KindInvalid)
				var ce *connecthub.Error
				if !errors.As(err, &ce) || ce.Field != tc.field {
					t.Errorf("%s: err = %v, want one naming field %s", name, err, tc.field)
				}
			}
			if _, err := s.TokenByHash(t.Context(), "sha256-of-tok_r"); !connecthub.IsKind(err, connecthub.KindNotFound) {
				t.Errorf("a refused token was stored: err = %v", err)
			}
		},
		"CreateConflicts": func(t *testing.T, s store.Store) {
			createToken(t, s, testToken("tok_1", "one", t0))
			for name, tok := range map[string]*connecthub.Token{
				"same id":   {ID: "tok_1", Name: "other", Scope: connecthub.ScopeWorker, Hash: "h-other", CreatedAt: t0},
				"same name": {ID: "tok_2", Name: "one", Scope: connecthub.ScopeWorker, Hash: "h-2", CreatedAt: t0},
				"same hash": {ID: "tok_3", Name: "three", Scope: connecthub.ScopeWorker, Hash: "sha256-of-tok_1", CreatedAt: t0},
			} {
				if err := s.TokenCreate(t.Context(), tok); !isCode(err, connecthub.KindConflict, "token_exists") {
					t.Errorf("%s: TokenCreate = %v, want a token_exists conflict", name, err)
				}
			}
			// A revoked token keeps its name.
			if err := s.TokenRevoke(t.Context(), "tok_1", t0); err != nil {
				t.Fatal(err)
			}
			requireKind(t, s.TokenCreate(t.Context(), testToken("tok_4", "one", t0)), connecthub.KindConflict)
			list, err := s.TokenList(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "tokens", []string{"tok_1"}, tokenIDs(list))
		},
		"CreateInvalid": func(t *testing.T, s store.Store) {
			requireKind(t, s.TokenCreate(t.Context(), nil), connecthub.KindInvalid)
			for name, mutate := range map[string]func(*connecthub.Token){
				"no id":      func(tok *connecthub.Token) { tok.ID = "" },
				"no name":    func(tok *connecthub.Token) { tok.Name = "" },
				"no hash":    func(tok *connecthub.Token) { tok.Hash = "" },
				"no scope":   func(tok *connecthub.Token) { tok.Scope = "" },
				"bad scope":  func(tok *connecthub.Token) { tok.Scope = "root" },
				"no created": func(tok *connecthub.Token) { tok.CreatedAt = time.Time{} },
			} {
				tok := testToken("tok_x", "x", t0)
				mutate(tok)
				if err := s.TokenCreate(t.Context(), tok); !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("%s: TokenCreate = %v, want an invalid error", name, err)
				}
			}
		},
		"ListNewestFirst": func(t *testing.T, s store.Store) {
			if list, err := s.TokenList(t.Context()); err != nil || len(list) != 0 {
				t.Fatalf("TokenList of an empty store = %v, %v", tokenIDs(list), err)
			}
			createToken(t, s, testToken("tok_b", "b", t0))
			createToken(t, s, testToken("tok_old", "old", t0.Add(-time.Hour)))
			createToken(t, s, testToken("tok_new", "new", t0.Add(time.Hour)))
			createToken(t, s, testToken("tok_a", "a", t0)) // same time as tok_b: id descending
			createToken(t, s, testToken("tok_c", "c", t0))
			if err := s.TokenRevoke(t.Context(), "tok_c", t0); err != nil {
				t.Fatal(err)
			}
			list, err := s.TokenList(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "tokens", []string{"tok_new", "tok_c", "tok_b", "tok_a", "tok_old"}, tokenIDs(list))
			checkToken(t, testToken("tok_old", "old", t0.Add(-time.Hour)), list[4])
			if list[1].RevokedAt == nil {
				t.Error("a revoked token is listed without its revocation time")
			}
		},
		"Revoke": func(t *testing.T, s store.Store) {
			byID := createToken(t, s, testToken("tok_1", "one", t0))
			byName := createToken(t, s, testToken("tok_2", "two", t0))
			first := t0.Add(time.Minute)
			if err := s.TokenRevoke(t.Context(), "tok_1", first.In(shanghai)); err != nil {
				t.Fatal(err)
			}
			if err := s.TokenRevoke(t.Context(), "two", first); err != nil {
				t.Fatal(err)
			}
			for _, tok := range []*connecthub.Token{byID, byName} {
				want := *tok
				want.RevokedAt = &first
				// Revoked tokens are still found, so the caller can tell them.
				checkToken(t, &want, tokenByHash(t, s, tok.Hash))
				// Again: no error, and the first time is kept.
				if err := s.TokenRevoke(t.Context(), tok.ID, first.Add(time.Hour)); err != nil {
					t.Errorf("second revoke of %s: %v", tok.ID, err)
				}
				checkToken(t, &want, tokenByHash(t, s, tok.Hash))
			}
			requireKind(t, s.TokenRevoke(t.Context(), "ghost", t0), connecthub.KindNotFound)
		},
		"RevokePrefersTheID": func(t *testing.T, s store.Store) {
			// One token's name is another's id: the id wins.
			target := createToken(t, s, testToken("tok_x", "x", t0))
			namesake := createToken(t, s, testToken("tok_y", "tok_x", t0))
			if err := s.TokenRevoke(t.Context(), "tok_x", t0); err != nil {
				t.Fatal(err)
			}
			if tokenByHash(t, s, target.Hash).RevokedAt == nil {
				t.Error("the token with that id was not revoked")
			}
			if tokenByHash(t, s, namesake.Hash).RevokedAt != nil {
				t.Error("the token with that name was revoked instead of (or as well as) the one with that id")
			}
		},
		"TouchIsThrottled": func(t *testing.T, s store.Store) {
			tok := createToken(t, s, testToken("tok_1", "one", t0))
			other := createToken(t, s, testToken("tok_2", "two", t0))
			touch := func(at time.Time) {
				t.Helper()
				if err := s.TokenTouch(t.Context(), tok.ID, at); err != nil {
					t.Fatalf("TokenTouch(%s): %v", at, err)
				}
			}
			lastUsed := func() *time.Time {
				t.Helper()
				return tokenByHash(t, s, tok.Hash).LastUsedAt
			}
			touch(t0.In(shanghai))
			checkTimePtr(t, "first use", ptr(t0), lastUsed())
			touch(t0.Add(30 * time.Second))
			touch(t0.Add(time.Minute - time.Microsecond))
			checkTimePtr(t, "within the minute", ptr(t0), lastUsed())
			touch(t0.Add(-time.Hour)) // a replica whose clock is behind
			checkTimePtr(t, "earlier use", ptr(t0), lastUsed())
			touch(t0.Add(time.Minute))
			checkTimePtr(t, "a minute later", ptr(t0.Add(time.Minute)), lastUsed())
			touch(t0.Add(time.Hour))
			checkTimePtr(t, "an hour later", ptr(t0.Add(time.Hour)), lastUsed())
			checkTimePtr(t, "another token", nil, tokenByHash(t, s, other.Hash).LastUsedAt)
			if err := s.TokenTouch(t.Context(), "tok_ghost", t0); err != nil {
				t.Errorf("TokenTouch of an unknown token = %v, want nil", err)
			}
		},
	})
}
