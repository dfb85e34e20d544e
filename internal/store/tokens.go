package store

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/connecthub/connecthub"
)

// TokenTouchEvery is how stale last_used_at must be before TokenTouch
// writes it again: at most one write a minute per token, however busy.
const TokenTouchEvery = time.Minute

// ErrTokenExists is TokenCreate's conflict: the id, name or hash is taken;
// err is the database's unique violation, kept for logs.
func ErrTokenExists(err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "token_exists",
		Message: "a token with this id, name or secret already exists", Err: err}
}

// ErrNoTokenHash is TokenByHash's not-found error. The hash is a
// credential's fingerprint, so it is not named.
func ErrNoTokenHash() error {
	return connecthub.Errorf(connecthub.KindNotFound, "no token has this secret")
}

// MaxTokenQueues caps the queues a worker token is bound to: as many as a
// claim may name, since the token's node claims from them.
const MaxTokenQueues = MaxClaimQueues

// tokenBindPattern is what a node-name prefix and a queue name may hold:
// the characters of node and queue names.
var tokenBindPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// TokenRow is a token's binding as both drivers store it: the node-name
// prefix and the queues encoded for their JSON column, with the defaults
// applied.
type TokenRow struct {
	NodePrefix string
	Queues     string
}

// PrepareToken checks a token (TokenCreate) and returns its binding as
// stored. A worker-scope token without a prefix is bound to node names
// starting with its name, one without queues to the default queue: the
// binding every worker token had before it could be chosen, so that a
// token never comes out of the store unbound. An admin-scope token is
// bound to nothing and may not name a binding, which it could not honour;
// nor may a user-scope (personal) token, which acts with its owner's role.
func PrepareToken(t *connecthub.Token) (TokenRow, error) {
	if err := CheckToken(t); err != nil {
		return TokenRow{}, err
	}
	if t.Scope != connecthub.ScopeWorker {
		if t.NodePrefix != "" || len(t.Queues) > 0 {
			return TokenRow{}, connecthub.FieldError("scope", "", "queues and node_prefix bind worker-scope tokens only; an %s token acts with its role", t.Scope)
		}
		return TokenRow{Queues: "[]"}, nil
	}
	prefix, queues := WorkerTokenBinding(t)
	if !tokenBindPattern.MatchString(prefix) {
		return TokenRow{}, connecthub.FieldError("node_prefix", "", "node_prefix must be 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	if len(queues) > MaxTokenQueues {
		return TokenRow{}, connecthub.FieldError("queues", "", "a token may be bound to at most %d queues", MaxTokenQueues)
	}
	for i, q := range queues {
		if !tokenBindPattern.MatchString(q) || len(q) > 64 {
			return TokenRow{}, connecthub.FieldError("queues", "", "queues[%d] (%q) must be 1-64 characters of A-Z a-z 0-9 . _ : -", i, q)
		}
		if slices.Contains(queues[:i], q) {
			return TokenRow{}, connecthub.FieldError("queues", "", "queue %q is listed twice", q)
		}
	}
	b, err := json.Marshal(queues)
	if err != nil {
		return TokenRow{}, fmt.Errorf("encode token %s queues: %w", t.ID, err)
	}
	return TokenRow{NodePrefix: prefix, Queues: string(b)}, nil
}

// WorkerTokenBinding returns the node-name prefix and queues a worker
// token is bound to, its defaults applied: its name, and the default queue.
func WorkerTokenBinding(t *connecthub.Token) (prefix string, queues []string) {
	prefix, queues = t.NodePrefix, t.Queues
	if prefix == "" {
		prefix = t.Name
	}
	if len(queues) == 0 {
		queues = []string{connecthub.DefaultQueue}
	}
	return prefix, queues
}

// DecodeTokenQueues sets a token's queues from their stored JSON; an
// admin-scope token's are left nil.
func DecodeTokenQueues(t *connecthub.Token, stored []byte) error {
	var queues []string
	if len(stored) > 0 {
		if err := json.Unmarshal(stored, &queues); err != nil {
			return fmt.Errorf("decode token %s queues: %w", t.ID, err)
		}
	}
	if len(queues) == 0 {
		queues = nil
	}
	t.Queues = queues
	return nil
}
