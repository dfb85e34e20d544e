package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/store"
)

// combinedSource wraps a LocalSource, counts its combined calls, records the
// outcomes they carry, and can fail the first ones without doing anything.
type combinedSource struct {
	*LocalSource
	mu        sync.Mutex
	calls     int // CompleteAndClaim calls, failed ones included
	failFirst int
	outcomes  []store.RunOutcome
}

func (s *combinedSource) CompleteAndClaim(ctx context.Context, outcomes []store.RunOutcome, max int) ([]*Claimed, error) {
	s.mu.Lock()
	s.calls++
	if s.calls <= s.failFirst {
		s.mu.Unlock()
		return nil, errHiccup
	}
	s.outcomes = append(s.outcomes, outcomes...)
	s.mu.Unlock()
	return s.LocalSource.CompleteAndClaim(ctx, outcomes, max)
}

func (s *combinedSource) stats() (calls int, outcomes []store.RunOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, append([]store.RunOutcome(nil), s.outcomes...)
}

// countStatus counts the runs in status.
func countStatus(t *testing.T, h *harness, status connecthub.RunStatus) int {
	t.Helper()
	st, err := h.st.Stats(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Runs[status])
}

// countingHandler counts the executions of each run and returns err.
func countingHandler(mu *sync.Mutex, seen map[string]int, err error) handler.Func {
	return func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		mu.Lock()
		seen[task.RunID]++
		mu.Unlock()
		return &handler.Result{Message: "counted"}, err
	}
}

// TestCompleteAndClaim: with a Source that can record outcomes and claim in
// one call, the worker uses it for the outcomes of short runs, and every run
// is still executed once and recorded, by two workers at once, also when
// the first combined calls fail (their outcomes go back to the completer).
func TestCompleteAndClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failFirst int
	}{
		{name: "ok"},
		{name: "first calls fail", failFirst: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const runs = 300
			h := newHarness(t)
			var mu sync.Mutex
			seen := make(map[string]int)
			h.handle(t, "count", countingHandler(&mu, seen, nil))
			j := h.job(t, "job", "count", nil)
			var srcs []*combinedSource
			for _, node := range []string{"node-a", "node-b"} {
				src := &combinedSource{LocalSource: h.source(t, node), failFirst: tc.failFirst}
				srcs = append(srcs, src)
				h.start(t, node, src, func(c *Config) { c.Concurrency = 8 })
			}
			ids := h.enqueue(t, j, runs)
			waitFor(t, "all runs to succeed", func() bool { return countStatus(t, h, connecthub.StatusSuccess) == runs })
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if seen[id] != 1 {
					t.Errorf("run %s executed %d times", id, seen[id])
				}
			}
			combined, calls := 0, 0
			for _, src := range srcs {
				n, outcomes := src.stats()
				calls += n
				combined += len(outcomes)
			}
			if calls <= 2*tc.failFirst || combined == 0 {
				t.Errorf("%d combined calls carried %d outcomes, want some beyond the %d failures of each worker", calls, combined, tc.failFirst)
			}
			t.Logf("%d of %d outcomes recorded with a claim, in %d calls", combined, runs, calls)
		})
	}
}

// TestRequeuesNotCombined: retries go through Complete, never with a
// claim (see completeClaimer), and end as they do without combining.
func TestRequeuesNotCombined(t *testing.T) {
	t.Parallel()
	const runs = 20
	h := newHarness(t)
	var mu sync.Mutex
	seen := make(map[string]int)
	h.handle(t, "fail", countingHandler(&mu, seen, errors.New("always")))
	j := h.job(t, "job", "fail", func(j *connecthub.Job) {
		j.MaxAttempts = 2
		j.RetryBackoff = connecthub.Duration(time.Millisecond)
	})
	src := &combinedSource{LocalSource: h.source(t, "node-a")}
	h.start(t, "node-a", src, nil)
	ids := h.enqueue(t, j, runs)
	for _, id := range ids {
		r := h.waitStatus(t, id, connecthub.StatusFailure)
		if r.Attempt != 2 || len(r.Attempts) != 1 {
			t.Errorf("run %s ended in attempt %d with %d earlier attempts, want 2 and 1", id, r.Attempt, len(r.Attempts))
		}
	}
	_, outcomes := src.stats()
	for _, o := range outcomes {
		if o.Status == connecthub.StatusQueued {
			t.Errorf("a re-queue of run %s was recorded with a claim", o.ID)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if seen[id] != 2 {
			t.Errorf("run %s executed %d times, want 2", id, seen[id])
		}
	}
}

// TestPausedWorkerRecordsOutcomes: outcomes that the completer left to the
// claim loop's next claim are written all the same when the worker is
// paused instead, not held until it resumes.
func TestPausedWorkerRecordsOutcomes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	gate := make(chan struct{})
	var started atomic.Int32
	h.handle(t, "gated", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		started.Add(1)
		<-gate
		return &handler.Result{Message: "done"}, nil
	})
	j := h.job(t, "job", "gated", nil)
	ids := h.enqueue(t, j, 2)
	w := h.start(t, "node-a", nil, func(c *Config) { c.Concurrency = 2 })
	waitFor(t, "both handlers to start", func() bool { return started.Load() == 2 })
	w.Pause()
	close(gate)
	for _, id := range ids {
		h.waitStatus(t, id, connecthub.StatusSuccess)
	}
	waitFor(t, "the worker to hold no run", func() bool { return w.Running() == 0 })
}
