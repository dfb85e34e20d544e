package maintenance_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/maintenance"
	"github.com/connecthub/connecthub/internal/node"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/testenv"
)

func TestNodeReaperConfig(t *testing.T) {
	t.Parallel()
	st := testenv.SQLite(t)
	tests := []struct {
		name         string
		cfg          maintenance.NodeReaperConfig
		wantErr      string
		wantInterval time.Duration
	}{
		{"no store", maintenance.NodeReaperConfig{DeadAfter: time.Minute}, "Store is required", 0},
		{"no DeadAfter", maintenance.NodeReaperConfig{Store: st}, "DeadAfter must be > 0", 0},
		{"default interval capped at 5s", maintenance.NodeReaperConfig{Store: st, DeadAfter: 30 * time.Second}, "", 5 * time.Second},
		{"default interval DeadAfter/3", maintenance.NodeReaperConfig{Store: st, DeadAfter: 6 * time.Second}, "", 2 * time.Second},
		{"negative interval", maintenance.NodeReaperConfig{Store: st, DeadAfter: 6 * time.Second, Interval: -time.Second}, "Interval must be > 0", 0},
	}
	for _, tt := range tests {
		r, err := maintenance.NewNodeReaper(tt.cfg)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want one naming %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := r.Interval(); got != tt.wantInterval {
			t.Errorf("%s: Interval = %s, want %s", tt.name, got, tt.wantInterval)
		}
	}
}

// TestNodeReaperLoop runs the real reaper on a fake clock: it must find
// the dead node by itself one Interval after the node fell silent for
// DeadAfter, and stop cleanly (twice, and also before a Start).
func TestNodeReaperLoop(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	st, clk := testenv.SQLite(t), testenv.Clock()
	reg, err := node.New(node.Config{Store: st, DeadAfter: 30 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(ctx, &connecthub.Node{Name: "w1", Kind: connecthub.NodeKindWorker, Version: "1.0.0",
		Queues: []string{connecthub.DefaultQueue}, Handlers: []connecthub.NodeHandler{{Name: "h"}}, MaxConcurrency: 1}); err != nil {
		t.Fatal(err)
	}
	id := testenv.Enqueue(t, st, testenv.Job(t, st, "job", "h", nil), clk.Now(), 1)[0]
	if _, err := st.RunClaim(ctx, store.RunClaimParams{Node: "w1", Queues: []string{connecthub.DefaultQueue}, Max: 1, LeaseTTL: time.Hour, Now: clk.Now()}); err != nil {
		t.Fatal(err)
	}

	r, err := maintenance.NewNodeReaper(maintenance.NodeReaperConfig{Store: st, DeadAfter: reg.DeadAfter(), Interval: time.Second, Clock: clk, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err == nil {
		t.Fatal("a second Start must fail")
	}
	// Idle passes while the node is within DeadAfter.
	for range 30 {
		if err := clk.BlockUntilTimersContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	if err := clk.BlockUntilTimersContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n, err := reg.Get(ctx, "w1"); err != nil || n.PresentState == connecthub.NodeInactive {
		t.Fatalf("node silent for exactly DeadAfter: %+v, %v; want it not dead yet", n, err)
	}
	clk.Advance(time.Second)
	if err := clk.BlockUntilTimersContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if run, err := st.RunGet(ctx, id); err != nil || run.Status != connecthub.StatusFailure {
		t.Fatalf("the dead node's run: %+v, %v; want FAILURE", run, err)
	}
	if n, err := reg.Get(ctx, "w1"); err != nil || n.PresentState != connecthub.NodeInactive {
		t.Fatalf("node: %+v, %v; want inactive", n, err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	// The reaper is not one-shot: it may run again.
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	r.Base.Stop()
}

// failingReapStore fails every pass and signals it.
type failingReapStore struct{ calls chan struct{} }

func (s failingReapStore) NodeMarkDead(context.Context, time.Time, time.Time) ([]*connecthub.Node, []*connecthub.Run, error) {
	s.calls <- struct{}{}
	return nil, nil, errors.New("database is down")
}

func TestNodeReaperKeepsGoingAfterErrors(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	clk := testenv.Clock()
	st := failingReapStore{calls: make(chan struct{}, 1)}
	r, err := maintenance.NewNodeReaper(maintenance.NodeReaperConfig{Store: st, DeadAfter: 3 * time.Second, Clock: clk, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	startCtx, cancel := context.WithCancel(ctx)
	if err := r.Start(startCtx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := clk.BlockUntilTimersContext(ctx, 1); err != nil {
			t.Fatalf("pass %d: %v", i+1, err)
		}
		clk.Advance(r.Interval())
		testenv.Wait(t, st.calls, "a reap pass")
	}
	// Cancelling Start's context stops the reaper as Stop does.
	cancel()
	testenv.Wait(t, r.Stopped(), "the reaper to stop with its context")
}
