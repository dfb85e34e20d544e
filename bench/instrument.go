package main

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/handlers/noop"
	"github.com/connecthub/connecthub/internal/scheduler"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/worker"
)

// countingSource wraps the node's real Source to observe it without
// changing what it does: it counts the calls (the worker's round trips to
// the store) and closes done at the moment the outcome of the want-th run
// has been committed, which is when a throughput measurement ends. The
// extra cost is a few atomic adds and clock reads per call, not per run.
type countingSource struct {
	worker.Source

	want int64
	done chan struct{}
	once sync.Once

	claims, claimed, completes, completed, completeClaims, heartbeats, logAppends atomic.Int64
	// Time spent in Claim, Complete and CompleteAndClaim calls.
	claimNanos, completeNanos, ccNanos atomic.Int64
	// When the first Claim call started and the first claimed runs came
	// back, and when the want-th outcome was committed (Unix nanoseconds),
	// to tell the node's start from its work.
	firstClaim, firstClaimed, doneAt atomic.Int64
}

// completeClaimer is the worker's optional combined call (see
// worker.LocalSource.CompleteAndClaim): countingSource passes it through,
// since a wrapper without it would turn the worker's combined calls back
// into separate ones and measure something else than a node.
type completeClaimer interface {
	CompleteAndClaim(ctx context.Context, outcomes []store.RunOutcome, max int) ([]*worker.Claimed, error)
	CompleteAndClaimPays() bool
}

// combineEnv forces the worker's use of the combined call on ("on") or off
// ("off") whatever the store says, to measure both ways on one driver;
// unset or anything else leaves the choice to the store.
const combineEnv = "CONNECTHUB_BENCH_COMBINE"

// CompleteAndClaimPays passes the store's choice through, unless
// CONNECTHUB_BENCH_COMBINE overrides it.
func (s *countingSource) CompleteAndClaimPays() bool {
	cc, ok := s.Source.(completeClaimer)
	switch {
	case !ok:
		return false
	case os.Getenv(combineEnv) == "on":
		return true
	case os.Getenv(combineEnv) == "off":
		return false
	}
	return cc.CompleteAndClaimPays()
}

func newCountingSource(src worker.Source, want int) *countingSource {
	return &countingSource{Source: src, want: int64(want), done: make(chan struct{})}
}

// finish records the moment the want-th outcome was committed and closes
// done, once.
func (s *countingSource) finish() {
	s.once.Do(func() {
		s.doneAt.Store(time.Now().UnixNano())
		close(s.done)
	})
}

// Claim counts every call, including the empty ones of an idle worker.
func (s *countingSource) Claim(ctx context.Context, max int) ([]*worker.Claimed, error) {
	s.claims.Add(1)
	t0 := time.Now()
	s.firstClaim.CompareAndSwap(0, t0.UnixNano())
	runs, err := s.Source.Claim(ctx, max)
	s.claimNanos.Add(int64(time.Since(t0)))
	if len(runs) > 0 {
		s.firstClaimed.CompareAndSwap(0, time.Now().UnixNano())
	}
	s.claimed.Add(int64(len(runs)))
	return runs, err
}

// Complete counts the outcomes that were committed.
func (s *countingSource) Complete(ctx context.Context, outcomes []store.RunOutcome) error {
	s.completes.Add(1)
	t0 := time.Now()
	err := s.Source.Complete(ctx, outcomes)
	s.completeNanos.Add(int64(time.Since(t0)))
	if err == nil && s.completed.Add(int64(len(outcomes))) >= s.want {
		s.finish()
	}
	return err
}

// CompleteAndClaim counts a combined call as one call, its outcomes as
// committed and its runs as claimed; over a Source without the combined
// call it is Complete then Claim.
func (s *countingSource) CompleteAndClaim(ctx context.Context, outcomes []store.RunOutcome, max int) ([]*worker.Claimed, error) {
	cc, ok := s.Source.(completeClaimer)
	if !ok {
		if err := s.Complete(ctx, outcomes); err != nil {
			return nil, err
		}
		return s.Claim(ctx, max)
	}
	s.completeClaims.Add(1)
	t0 := time.Now()
	runs, err := cc.CompleteAndClaim(ctx, outcomes, max)
	s.ccNanos.Add(int64(time.Since(t0)))
	if err != nil {
		return nil, err
	}
	s.claimed.Add(int64(len(runs)))
	if s.completed.Add(int64(len(outcomes))) >= s.want {
		s.finish()
	}
	return runs, nil
}

// Heartbeat counts the lease extensions.
func (s *countingSource) Heartbeat(ctx context.Context, runIDs []string) (store.RunHeartbeatResult, error) {
	s.heartbeats.Add(1)
	return s.Source.Heartbeat(ctx, runIDs)
}

// AppendLog counts log writes (noop writes none, so this should stay 0).
func (s *countingSource) AppendLog(ctx context.Context, runID, chunk string) error {
	s.logAppends.Add(1)
	return s.Source.AppendLog(ctx, runID, chunk)
}

// fireRecorder wraps the scheduler's store to learn when the cron fan-out's
// runs were committed: the runs' created_at is the scheduler's clock at the
// start of its round, before the listing and the insert, so it understates
// the insert time; the return of JobsFire is when the runs exist for
// workers. It records the moment the call that brought the inserted count
// to want returned.
type fireRecorder struct {
	scheduler.Store

	want int

	mu        sync.Mutex
	calls     int64
	inserted  int
	lastAt    time.Time // when the call that reached want returned
	firstCall time.Time // when the first call began
}

// JobsFire counts the runs each call inserted.
func (f *fireRecorder) JobsFire(ctx context.Context, fires []store.JobFireParams) ([]store.JobFireResult, error) {
	began := time.Now()
	res, err := f.Store.JobsFire(ctx, fires)
	returned := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.firstCall.IsZero() {
		f.firstCall = began
	}
	if err != nil {
		return res, err
	}
	before := f.inserted
	for _, r := range res {
		f.inserted += r.Inserted
	}
	if before < f.want && f.inserted >= f.want {
		f.lastAt = returned
	}
	return res, err
}

// snapshot returns the recorder's figures.
func (f *fireRecorder) snapshot() (calls int64, inserted int, first, last time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.inserted, f.firstCall, f.lastAt
}

// handlerStarts records when each run's handler was entered, by run id.
type handlerStarts struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newHandlerStarts() *handlerStarts {
	return &handlerStarts{at: make(map[string]time.Time)}
}

func (h *handlerStarts) record(runID string, t time.Time) {
	h.mu.Lock()
	h.at[runID] = t
	h.mu.Unlock()
}

func (h *handlerStarts) get(runID string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.at[runID]
	return t, ok
}

// registry returns the built-in handlers as serve registers them. When
// starts is not nil, the noop handler is the built-in one behind a wrapper
// that first records the time it was entered: the latency measurement ends
// where the user's code would begin.
func registry(starts *handlerStarts) (*handler.Registry, error) {
	builtins := handler.NewRegistry()
	if err := builtin.Register(builtins, builtin.Options{}); err != nil {
		return nil, err
	}
	if starts == nil {
		return builtins, nil
	}
	reg := handler.NewRegistry()
	for _, s := range builtins.List() {
		if s.Name == noop.Name {
			inner := s.Func
			s.Func = func(ctx context.Context, t *handler.Task) (*handler.Result, error) {
				starts.record(t.RunID, time.Now())
				return inner(ctx, t)
			}
		}
		if err := reg.Add(s); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
