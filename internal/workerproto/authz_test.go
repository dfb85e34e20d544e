package workerproto_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/workerproto"
	"github.com/connecthub/connecthub/protocol"
)

// TestWorkerTokenBinding: with a worker token in the context, every call
// is held to the token's node-name prefix and queues, the server's own
// node is out of reach, and a live node of another token cannot be taken
// over; a dead one can. Without a token (the admin) nothing is bound.
func TestWorkerTokenBinding(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tokenCtx := func(id, name, prefix string, queues ...string) context.Context {
		return workerproto.WithWorkerToken(ctx, &connecthub.Token{ID: id, Name: name, Scope: connecthub.ScopeWorker,
			NodePrefix: prefix, Queues: queues})
	}
	edge := tokenCtx("tok_edge", "edge", "")          // defaults: prefix "edge", queue "default"
	rival := tokenCtx("tok_rival", "rival", "edge-a") // a prefix that also covers edge-a1
	if _, err := e.nodes.Register(ctx, &connecthub.Node{Name: "edge-server", Kind: connecthub.NodeKindServer,
		Queues: []string{"default"}, Handlers: []connecthub.NodeHandler{{Name: "noop"}}}); err != nil {
		t.Fatal(err)
	}
	reg := func(ctx context.Context, name string, queues ...string) error {
		_, err := e.svc.Register(ctx, protocol.RegisterRequest{Name: name, Queues: queues,
			Handlers: []connecthub.NodeHandler{{Name: "noop"}}, MaxConcurrency: 1})
		return err
	}
	if err := reg(edge, "edge-a1", "default"); err != nil {
		t.Fatalf("register within the binding: %v", err)
	}
	if n, _ := e.nodes.Get(ctx, "edge-a1"); n.OwnerToken != "tok_edge" {
		t.Errorf("owner of edge-a1 = %q, want tok_edge", n.OwnerToken)
	}
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"register outside the prefix", func() error { return reg(edge, "other-1", "default") }, "node_not_allowed"},
		{"register a foreign queue", func() error { return reg(edge, "edge-a2", "default", "payroll") }, "queue_not_allowed"},
		{"register over the server's node", func() error { return reg(edge, "edge-server", "default") }, "node_owned"},
		{"register over another token's live node", func() error { return reg(rival, "edge-a1", "default") }, "node_owned"},
		{"keepalive another token's node", func() error {
			_, err := e.svc.Keepalive(rival, protocol.KeepaliveRequest{Name: "edge-a1"})
			return err
		}, "node_not_allowed"},
		{"prestop outside the prefix", func() error {
			return e.svc.Prestop(edge, protocol.PrestopRequest{Name: "other-1"})
		}, "node_not_allowed"},
		{"claim as the server's node", func() error {
			_, err := e.svc.Claim(edge, protocol.ClaimRequest{Name: "edge-server", Max: 1})
			return err
		}, "node_not_allowed"},
		{"heartbeat as the server's node", func() error {
			_, err := e.svc.Heartbeat(edge, protocol.HeartbeatRequest{Name: "edge-server"})
			return err
		}, "node_not_allowed"},
	}
	for _, tt := range tests {
		var ce *connecthub.Error
		if err := tt.call(); !errors.As(err, &ce) || ce.Code != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	if err := reg(ctx, "edge-server", "default", "payroll"); err != nil {
		t.Errorf("the admin (no token) is not bound: %v", err)
	}
	// Once edge-a1 is declared dead, a token whose prefix covers it may
	// take it over.
	now := e.clk.Now().Add(time.Hour)
	if _, _, err := e.st.NodeMarkDead(ctx, now, now); err != nil {
		t.Fatal(err)
	}
	if err := reg(rival, "edge-a1", "default"); err != nil {
		t.Errorf("taking over a dead node: %v", err)
	}
}
