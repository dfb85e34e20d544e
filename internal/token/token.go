// Package token manages API tokens: bearer secrets other than the admin
// token, each with a scope (admin: everything; worker: only the worker
// protocol), that operators create for machines and revoke one by one.
//
// Only the SHA-256 of a secret is stored. A secret is 32 random bytes, so
// its hash cannot be reversed by guessing, and a plain (unsalted) hash is
// what lets a request be authenticated with one indexed lookup. The secret
// is shown once, when the token is created; a lost secret is replaced by a
// new token, never recovered.
package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Prefixes of the secrets by scope. They let a person (and secret scanners)
// tell a ConnectHub token from other credentials, and its scope at a glance.
const (
	PrefixWorker = "chw_"
	PrefixAdmin  = "cha_"
	PrefixUser   = "chu_"
)

// secretBytes is the entropy of a secret.
const secretBytes = 32

// Store is the part of the storage contract tokens need
// (store.TokenStore).
type Store interface {
	TokenCreate(ctx context.Context, t *connecthub.Token) error
	TokenByHash(ctx context.Context, hash string) (*connecthub.Token, error)
	TokenList(ctx context.Context) ([]*connecthub.Token, error)
	TokenRevoke(ctx context.Context, idOrName string, now time.Time) error
	TokenTouch(ctx context.Context, id string, now time.Time) error
}

// Service creates, lists, revokes and checks tokens.
type Service struct {
	st  Store
	now func() time.Time
}

// New returns a Service over st; now is the clock (nil = time.Now).
func New(st Store, now func() time.Time) (*Service, error) {
	if st == nil {
		return nil, errors.New("token: store is required")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, now: func() time.Time { return now().UTC() }}, nil
}

// Hash returns the stored form of a secret: hex SHA-256.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Create makes a token and returns it with its secret, the only time the
// secret exists outside the caller's hands. An empty scope means worker:
// the narrower scope is the safe default for a credential given to a
// machine. A worker token made here is bound to node names starting with
// its name and to the default queue (see CreateBound).
func (s *Service) Create(ctx context.Context, name, scope string) (*connecthub.Token, string, error) {
	return s.CreateBound(ctx, name, scope, nil, "")
}

// CreateBound is Create with a worker token's binding: the queues its
// workers may serve (nil: the default queue) and the prefix of the node
// names they may use (empty: the token's name). The binding is what keeps
// a worker's credential from speaking for other nodes or receiving the
// secrets of other queues' jobs; the store checks it.
func (s *Service) CreateBound(ctx context.Context, name, scope string, queues []string, nodePrefix string) (*connecthub.Token, string, error) {
	return s.CreateFor(ctx, name, scope, queues, nodePrefix, "")
}

// CreateFor is CreateBound with an owner: a user-scope (personal) token
// acts for owner, with owner's role at the time of each request; the
// other scopes have no owner.
func (s *Service) CreateFor(ctx context.Context, name, scope string, queues []string, nodePrefix, owner string) (*connecthub.Token, string, error) {
	name = strings.TrimSpace(name)
	if !namePattern.MatchString(name) {
		return nil, "", connecthub.FieldError("name", "", "name is required: 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	if strings.HasPrefix(name, "tok_") {
		// Revoke takes an id or a name: a name that looks like an id
		// could make `token revoke` hit the wrong token.
		return nil, "", connecthub.FieldError("name", "", "name must not start with tok_ (reserved for token ids)")
	}
	if scope == "" {
		scope = connecthub.ScopeWorker
	}
	prefix := ""
	switch scope {
	case connecthub.ScopeWorker:
		prefix = PrefixWorker
	case connecthub.ScopeAdmin:
		prefix = PrefixAdmin
	case connecthub.ScopeUser:
		prefix = PrefixUser
	default:
		return nil, "", connecthub.FieldError("scope", "", "scope must be %s, %s or %s", connecthub.ScopeWorker, connecthub.ScopeAdmin, connecthub.ScopeUser)
	}
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", err
	}
	idRaw := make([]byte, 10)
	if _, err := rand.Read(idRaw); err != nil {
		return nil, "", err
	}
	secret := prefix + base64.RawURLEncoding.EncodeToString(raw)
	t := &connecthub.Token{
		ID:        "tok_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(idRaw)),
		Name:      name,
		Scope:     scope,
		Hash:      Hash(secret),
		Owner:     owner,
		CreatedAt: s.now(),
	}
	if scope == connecthub.ScopeWorker {
		// The defaults are applied here too, so that the token returned
		// shows the binding the store keeps.
		t.NodePrefix, t.Queues = store.WorkerTokenBinding(&connecthub.Token{Name: name, NodePrefix: strings.TrimSpace(nodePrefix), Queues: queues})
	} else {
		t.NodePrefix, t.Queues = strings.TrimSpace(nodePrefix), queues
	}
	if err := s.st.TokenCreate(ctx, t); err != nil {
		if connecthub.IsKind(err, connecthub.KindConflict) {
			return nil, "", &connecthub.Error{Kind: connecthub.KindConflict, Code: "token_exists", Field: "name",
				Message: "a token named " + name + " already exists (revoked tokens keep their name)"}
		}
		return nil, "", err
	}
	return t, secret, nil
}

// List returns every token, newest first, revoked ones included.
func (s *Service) List(ctx context.Context) ([]*connecthub.Token, error) {
	return s.st.TokenList(ctx)
}

// Revoke revokes a token by id or name. Revoking a revoked token is not an
// error; an unknown one is KindNotFound.
func (s *Service) Revoke(ctx context.Context, idOrName string) error {
	if strings.TrimSpace(idOrName) == "" {
		return connecthub.FieldError("id", "", "a token id or name is required")
	}
	return s.st.TokenRevoke(ctx, idOrName, s.now())
}

// Authenticate returns the live token whose secret is bearer, or nil when
// there is none (unknown or revoked): the caller answers 401 either way,
// without saying which. Its last use is recorded; that write failing does
// not fail the request.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*connecthub.Token, error) {
	if bearer == "" {
		return nil, nil
	}
	t, err := s.st.TokenByHash(ctx, Hash(bearer))
	if connecthub.IsKind(err, connecthub.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return nil, nil
	}
	_ = s.st.TokenTouch(ctx, t.ID, s.now())
	return t, nil
}
