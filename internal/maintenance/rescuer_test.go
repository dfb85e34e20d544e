package maintenance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/maintenance"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// claimAsDeadNode claims every queued run for a node that then "dies": it
// never heartbeats nor completes, so the 1s leases simply expire.
func claimAsDeadNode(t *testing.T, st *sqlitestore.Store, clk clock.Clock, n int) {
	t.Helper()
	runs, err := st.RunClaim(context.Background(), store.RunClaimParams{
		Node: "dead-node", Queues: []string{connecthub.DefaultQueue}, Max: n,
		LeaseTTL: time.Second, Now: clk.Now(),
	})
	if err != nil || len(runs) != n {
		t.Fatalf("claim as dead node: %d runs, %v", len(runs), err)
	}
}

func getRun(t *testing.T, st *sqlitestore.Store, id string) *connecthub.Run {
	t.Helper()
	r, err := st.RunGet(context.Background(), id)
	if err != nil {
		t.Fatalf("get run %s: %v", id, err)
	}
	return r
}

func TestRescuerRequeuesOrFailsExpiredLeases(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	st, clk := testenv.SQLite(t), testenv.Clock()
	retryable := testenv.Enqueue(t, st, testenv.Job(t, st, "retryable", "h", func(j *connecthub.Job) { j.MaxAttempts = 2 }), clk.Now(), 1)[0]
	lastTry := testenv.Enqueue(t, st, testenv.Job(t, st, "last-try", "h", nil), clk.Now(), 1)[0]
	claimAsDeadNode(t, st, clk, 2)

	r := maintenance.NewRescuer(maintenance.RescuerConfig{Store: st, Interval: time.Second, Logger: testenv.Logger(t), Clock: clk})
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	// The first pass, at Start, finds the leases still valid.
	if err := clk.BlockUntilTimersContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if run := getRun(t, st, retryable); run.Status != connecthub.StatusRunning {
		t.Fatalf("run rescued before its lease expired: %s", run.Status)
	}
	// The next pass finds them expired.
	clk.Advance(2 * time.Second)
	if err := clk.BlockUntilTimersContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	run := getRun(t, st, retryable)
	if run.Status != connecthub.StatusQueued || run.Attempt != 2 || run.Node != "" || len(run.Attempts) != 1 || run.Attempts[0].Error != connecthub.ReasonWorkerLost {
		t.Errorf("re-queued run: %s attempt %d node %q history %+v, want QUEUED attempt 2 with a %q attempt", run.Status, run.Attempt, run.Node, run.Attempts, connecthub.ReasonWorkerLost)
	}
	run = getRun(t, st, lastTry)
	if run.Status != connecthub.StatusFailure || run.Error != connecthub.ReasonWorkerLost || run.Attempt != 1 {
		t.Errorf("failed run: %s attempt %d error %q, want FAILURE attempt 1 %q", run.Status, run.Attempt, run.Error, connecthub.ReasonWorkerLost)
	}
}

func TestRescueOnceWorksInBatches(t *testing.T) {
	t.Parallel()
	st, clk := testenv.SQLite(t), testenv.Clock()
	ids := testenv.Enqueue(t, st, testenv.Job(t, st, "job", "h", nil), clk.Now(), 7)
	claimAsDeadNode(t, st, clk, len(ids))
	clk.Advance(time.Minute)
	r := maintenance.NewRescuer(maintenance.RescuerConfig{Store: st, Batch: 3, Logger: testenv.Logger(t), Clock: clk})
	n, err := r.RescueOnce(context.Background())
	if err != nil || n != len(ids) {
		t.Fatalf("RescueOnce = %d, %v; want %d", n, err, len(ids))
	}
	if n, err := r.RescueOnce(context.Background()); err != nil || n != 0 {
		t.Errorf("second RescueOnce = %d, %v; want 0", n, err)
	}
}

// failingRescueStore always fails, and signals each call.
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
	ctx := testenv.Context(t)
	clk := testenv.Clock()
	st := failingRescueStore{calls: make(chan struct{}, 1)}
	r := maintenance.NewRescuer(maintenance.RescuerConfig{Store: st, Interval: time.Second, Logger: testenv.Logger(t), Clock: clk})
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		testenv.Wait(t, st.calls, "a rescue attempt")
		if err := clk.BlockUntilTimersContext(ctx, 1); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		clk.Advance(time.Second)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRescuerLifecycle(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	if err := maintenance.NewRescuer(maintenance.RescuerConfig{}).Start(ctx); err == nil {
		t.Error("Start without a store succeeded")
	}
	if err := maintenance.NewRescuer(maintenance.RescuerConfig{Store: failingRescueStore{}, Interval: -time.Second}).Start(ctx); err == nil {
		t.Error("Start with a negative interval succeeded")
	}
	r := maintenance.NewRescuer(maintenance.RescuerConfig{Store: failingRescueStore{}, Logger: testenv.Logger(t)})
	if err := r.Stop(ctx); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := r.Start(ctx); err == nil {
		t.Error("Start after Stop succeeded")
	}
	if got := maintenance.NewRescuer(maintenance.RescuerConfig{Store: failingRescueStore{}, LeaseTTL: 4 * time.Second}).Interval(); got != 2*time.Second {
		t.Errorf("default interval for a 4s lease = %s, want 2s", got)
	}
	if got := maintenance.NewRescuer(maintenance.RescuerConfig{Store: failingRescueStore{}}).Interval(); got != 5*time.Second {
		t.Errorf("default interval = %s, want 5s", got)
	}
}

// TestRescuerStopsWithStartContext checks the lifecycle's one meaning of a
// cancelled Start context: the Rescuer stops as if Stop had been called.
func TestRescuerStopsWithStartContext(t *testing.T) {
	t.Parallel()
	clk := testenv.Clock()
	r := maintenance.NewRescuer(maintenance.RescuerConfig{Store: failingRescueStore{}, Logger: testenv.Logger(t), Clock: clk})
	startCtx, cancel := context.WithCancel(testenv.Context(t))
	if err := r.Start(startCtx); err != nil {
		t.Fatal(err)
	}
	testenv.Wait(t, r.Started(), "the rescuer to start")
	cancel()
	testenv.Wait(t, r.Stopped(), "the rescuer to stop with its context")
}
