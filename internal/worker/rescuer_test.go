package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// claimAsDeadNode claims every queued run for a node that then "dies": it
// never heartbeats nor completes, so the leases simply expire.
func (h *harness) claimAsDeadNode(t *testing.T, n int) {
	t.Helper()
	runs, err := h.st.RunClaim(context.Background(), store.RunClaimParams{
		Node: "dead-node", Queues: []string{connecthub.DefaultQueue}, Max: n,
		LeaseTTL: time.Second, Now: time.Now(),
	})
	if err != nil || len(runs) != n {
		t.Fatalf("claim as dead node: %d runs, %v", len(runs), err)
	}
}

func TestRescuerRequeuesOrFailsExpiredLeases(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	retryable := h.enqueue(t, h.job(t, "retryable", "h", func(j *connecthub.Job) { j.MaxAttempts = 2 }), 1)[0]
	lastTry := h.enqueue(t, h.job(t, "last-try", "h", nil), 1)[0]
	h.claimAsDeadNode(t, 2)

	// The rescuer's clock is a minute ahead, so the 1s leases are expired.
	r := NewRescuer(RescuerConfig{
		Store:    h.st,
		Interval: 5 * time.Millisecond,
		Logger:   h.log,
		Now:      func() time.Time { return time.Now().Add(time.Minute) },
	})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})

	run := h.waitStatus(t, retryable, connecthub.StatusQueued)
	if run.Attempt != 2 || run.Node != "" || len(run.Attempts) != 1 || run.Attempts[0].Error != connecthub.ReasonWorkerLost {
		t.Errorf("re-queued run: attempt %d node %q history %+v, want attempt 2 with a %q attempt", run.Attempt, run.Node, run.Attempts, connecthub.ReasonWorkerLost)
	}
	run = h.waitStatus(t, lastTry, connecthub.StatusFailure)
	if run.Error != connecthub.ReasonWorkerLost || run.Attempt != 1 {
		t.Errorf("failed run: attempt %d error %q, want attempt 1 %q", run.Attempt, run.Error, connecthub.ReasonWorkerLost)
	}
}

func TestRescueOnceWorksInBatches(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ids := h.enqueue(t, h.job(t, "job", "h", nil), 7)
	h.claimAsDeadNode(t, len(ids))
	r := NewRescuer(RescuerConfig{Store: h.st, Batch: 3, Logger: h.log, Now: func() time.Time { return time.Now().Add(time.Minute) }})
	n, err := r.RescueOnce(context.Background())
	if err != nil || n != len(ids) {
		t.Fatalf("RescueOnce = %d, %v; want %d", n, err, len(ids))
	}
	if n, err := r.RescueOnce(context.Background()); err != nil || n != 0 {
		t.Errorf("second RescueOnce = %d, %v; want 0", n, err)
	}
}

// failingRescueStore always fails.
type failingRescueStore struct{ calls chan struct{} }

func (s failingRescueStore) RunRescue(context.Context, time.Time, int) ([]*connecthub.Run, error) {
	select {
	case s.calls <- struct{}{}:
	default:
	}
	return nil, errors.New("database is down")
}

func TestRescuerKeepsGoingAfterErrors(t *testing.T) {
	t.Parallel()
	st := failingRescueStore{calls: make(chan struct{})}
	r := NewRescuer(RescuerConfig{Store: st, Interval: time.Millisecond, Logger: testLogger(t)})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		recv(t, st.calls, fmt.Sprintf("rescue attempt %d", i+1))
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRescuerLifecycle(t *testing.T) {
	t.Parallel()
	if err := NewRescuer(RescuerConfig{}).Start(context.Background()); err == nil {
		t.Error("Start without a store succeeded")
	}
	if err := NewRescuer(RescuerConfig{Store: failingRescueStore{}, Interval: -time.Second}).Start(context.Background()); err == nil {
		t.Error("Start with a negative interval succeeded")
	}
	r := NewRescuer(RescuerConfig{Store: failingRescueStore{}, Logger: testLogger(t)})
	if err := r.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := r.Start(context.Background()); err == nil {
		t.Error("Start after Stop succeeded")
	}
	if got := NewRescuer(RescuerConfig{Store: failingRescueStore{}, LeaseTTL: 4 * time.Second}).cfg.Interval; got != 2*time.Second {
		t.Errorf("default interval for a 4s lease = %s, want 2s", got)
	}
	if got := NewRescuer(RescuerConfig{Store: failingRescueStore{}}).cfg.Interval; got != 5*time.Second {
		t.Errorf("default interval = %s, want 5s", got)
	}
}
