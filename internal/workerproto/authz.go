package workerproto

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// A worker-scope token is a credential handed to a machine outside the
// server, so the protocol trusts it only as far as its binding: the node
// names that start with its prefix and the queues it was given. Without
// that, any worker could report another node's runs (forging outcomes of
// runs the server itself executes), re-register or delete other nodes, and
// register for any queue to receive the decrypted secrets of every job.
// Callers without a binding in their context (the admin token, an
// admin-scope token, an admin session) may act for every node, as they
// may change every job anyway.

// binding is a worker token's authority as the protocol checks it.
type binding struct {
	tokenID string
	name    string
	prefix  string
	queues  []string
}

type bindingKey struct{}

// WithWorkerToken returns ctx carrying the worker-scope token that
// authenticated the request, whose binding every Service call then
// enforces. A token of another scope, or nil, leaves ctx unbound.
func WithWorkerToken(ctx context.Context, t *connecthub.Token) context.Context {
	if t == nil || t.Scope != connecthub.ScopeWorker {
		return ctx
	}
	prefix, queues := store.WorkerTokenBinding(t)
	return context.WithValue(ctx, bindingKey{}, &binding{tokenID: t.ID, name: t.Name, prefix: prefix, queues: queues})
}

// bindingOf returns the binding of the request's worker token; nil when
// the caller is not bound.
func bindingOf(ctx context.Context) *binding {
	b, _ := ctx.Value(bindingKey{}).(*binding)
	return b
}

// errNodeNotAllowed answers a call about a node outside the token's
// node-name prefix.
func errNodeNotAllowed(b *binding, node string) error {
	return &connecthub.Error{Kind: connecthub.KindForbidden, Code: "node_not_allowed", Field: "name",
		Message: "worker token " + b.name + " may act only for nodes whose name starts with " + b.prefix + ", not " + node +
			" (create a token with --node-prefix, or name the worker after its token)"}
}

// authorizeNode checks that the caller may act for the named node: its
// name starts with the token's prefix, and it is not a server's own pool
// (a prefix that happens to match a server's node name must not let a
// worker speak for the runs the server executes). It costs bound callers
// one read of the node.
func (s *Service) authorizeNode(ctx context.Context, node string) error {
	b := bindingOf(ctx)
	if b == nil {
		return nil
	}
	if !strings.HasPrefix(node, b.prefix) {
		return errNodeNotAllowed(b, node)
	}
	why, err := s.foreignNode(ctx, b, node, false)
	if err != nil || why == "" {
		return err
	}
	return &connecthub.Error{Kind: connecthub.KindForbidden, Code: "node_not_allowed", Field: "name",
		Message: "node " + node + " " + why + ": worker token " + b.name + " may not act for it"}
}

// foreignNode reads the named node and says why the bound caller may not
// act for it; "" when it may: there is no such node, or nobody or the
// caller's token registered it. With takeover, a node another token
// registered is foreign only while it is alive (not declared dead).
func (s *Service) foreignNode(ctx context.Context, b *binding, node string, takeover bool) (string, error) {
	n, err := s.cfg.Nodes.Get(ctx, node)
	switch {
	case connecthub.IsKind(err, connecthub.KindNotFound):
		return "", nil
	case err != nil:
		return "", err
	case n.Kind == connecthub.NodeKindServer:
		return "is a server's own worker pool", nil
	case n.OwnerToken == "" || n.OwnerToken == b.tokenID:
		return "", nil
	case takeover && n.PresentState == connecthub.NodeInactive:
		return "", nil
	}
	return "was registered with another worker token", nil
}

// authorizeRegister checks a registration: the node name against the
// prefix, every queue against the token's queues, and the node already
// registered under that name, which must not be the server's own (a worker
// that took its name over would receive its Prometheus scrapes and speak
// for its runs) nor, while it is alive, another worker token's. A node
// declared dead (inactive) may be taken over, so that a worker whose
// token was rotated after a crash can come back under its name.
func (s *Service) authorizeRegister(ctx context.Context, node string, queues []string) error {
	b := bindingOf(ctx)
	if b == nil {
		return nil
	}
	if !strings.HasPrefix(node, b.prefix) {
		return errNodeNotAllowed(b, node)
	}
	for i, q := range queues {
		if !slices.Contains(b.queues, q) {
			return &connecthub.Error{Kind: connecthub.KindForbidden, Code: "queue_not_allowed", Field: "queues",
				Message: "worker token " + b.name + " may serve only the queues " + strings.Join(b.queues, ", ") +
					fmt.Sprintf(", not %s (queues[%d])", q, i)}
		}
	}
	why, err := s.foreignNode(ctx, b, node, true)
	if err != nil || why == "" {
		return err
	}
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "node_owned", Field: "name",
		Message: "node " + node + " " + why + ": a worker token cannot register over it; choose another node name"}
}

// ownerOf is the owner a registration records: the worker token that
// makes it, or nobody for an unbound caller.
func ownerOf(ctx context.Context) string {
	if b := bindingOf(ctx); b != nil {
		return b.tokenID
	}
	return ""
}

// claimQueues narrows a node's registered queues to those the caller may
// claim from: a node registered by an admin with more queues, then claimed
// for by a worker token, still gets only the token's queues' runs.
func claimQueues(ctx context.Context, queues []string) []string {
	b := bindingOf(ctx)
	if b == nil {
		return queues
	}
	out := make([]string, 0, len(queues))
	for _, q := range queues {
		if slices.Contains(b.queues, q) {
			out = append(out, q)
		}
	}
	return out
}
