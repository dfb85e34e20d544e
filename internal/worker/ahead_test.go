package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/store"
)

func TestAheadAllowance(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	tests := []struct {
		name string
		// claims: each claim's start (after the previous), the slots freed
		// in between, and its latency
		claims []struct {
			gap   time.Duration
			freed int64
			took  time.Duration
		}
		limit, want int
	}{
		{"nothing known yet", nil, 50, 0},
		{"one claim: no rate yet", []struct {
			gap   time.Duration
			freed int64
			took  time.Duration
		}{{0, 0, 3 * ms}}, 50, 0},
		{"short runs: a batch freed per claim", []struct {
			gap   time.Duration
			freed int64
			took  time.Duration
		}{{0, 0, 3 * ms}, {4 * ms, 40, 3 * ms}}, 50, 30},
		{"capped at the limit", []struct {
			gap   time.Duration
			freed int64
			took  time.Duration
		}{{0, 0, 3 * ms}, {4 * ms, 400, 3 * ms}}, 50, 50},
		{"long runs: less than a slot per claim", []struct {
			gap   time.Duration
			freed int64
			took  time.Duration
		}{{0, 0, 3 * ms}, {time.Second, 50, 3 * ms}}, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var e aheadEstimator
			now, freed := t0, int64(0)
			for _, c := range tt.claims {
				now = now.Add(c.gap)
				freed += c.freed
				e.claimStarted(now, freed)
				e.claimEnded(now.Add(c.took))
			}
			if got := e.allowance(tt.limit); got != tt.want {
				t.Errorf("allowance = %d, want %d", got, tt.want)
			}
		})
	}
}

// slowClaims is a Source whose claims take latency on a fake clock (the
// worker's), and which checks at every claim that the runs waiting for a
// slot after it cannot exceed Concurrency, nor the runs held 3 ×
// Concurrency, and records whether a claim asked for more runs than the
// worker had free slots (a claim ahead).
type slowClaims struct {
	Source
	clk     *clock.Fake
	latency time.Duration
	w       atomic.Pointer[Worker]

	mu      sync.Mutex
	calls   int
	ahead   int   // claims that asked for more than the free slots
	overrun []int // held + asked, when above 3 × Concurrency
	waiting []int // runs that would wait for a slot, when above Concurrency
}

func (s *slowClaims) Claim(ctx context.Context, n int) ([]*Claimed, error) {
	s.check(n)
	s.clk.Advance(s.latency)
	return s.Source.Claim(ctx, n)
}

// check records a claim of n runs and what it would leave the worker
// holding. Only the claim loop claims, and it alone touches w.ahead.
func (s *slowClaims) check(n int) {
	w := s.w.Load()
	if w == nil {
		return
	}
	held, free := int(w.held.Load()), w.cfg.Concurrency-int(w.used.Load())
	waiting := len(w.ahead) + n - free
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if n > free {
		s.ahead++
	}
	if held+n > 3*w.cfg.Concurrency {
		s.overrun = append(s.overrun, held+n)
	}
	if waiting > w.cfg.Concurrency {
		s.waiting = append(s.waiting, waiting)
	}
}

// slowCombined is slowClaims for a Source that records outcomes with its
// claims (SQLite's combined call), and counts the outcomes its calls
// carry.
type slowCombined struct {
	*slowClaims
	local    *LocalSource
	outcomes atomic.Int64
}

func (s *slowCombined) CompleteAndClaim(ctx context.Context, outcomes []store.RunOutcome, n int) ([]*Claimed, error) {
	s.check(n)
	s.outcomes.Add(int64(len(outcomes)))
	s.clk.Advance(s.latency)
	return s.local.CompleteAndClaim(ctx, outcomes, n)
}

func (s *slowCombined) CompleteAndClaimPays() bool { return true }

func (s *slowClaims) stats() (calls, ahead int, overrun, waiting []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.ahead, append([]int(nil), s.overrun...), append([]int(nil), s.waiting...)
}

// TestClaimAhead: with runs that take no time and claims that take a
// while, the worker claims ahead of its free slots, never lets more than
// Concurrency runs wait for a slot nor holds more than 3 × Concurrency
// runs, and runs every run once; with a Source that records outcomes with
// its claims too, where the outcomes of the runs claimed ahead ride with
// the claims that follow.
func TestClaimAhead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		combined bool // the Source records outcomes with its claims
	}{
		{"claims", false},
		{"claims with outcomes", true},
	}
	for _, tc := range tests {
		combined := tc.combined
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const limit, runs = 4, 200
			h := newHarness(t)
			var calls atomic.Int32
			h.handle(t, "fast", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
				calls.Add(1)
				return nil, nil
			})
			ids := h.enqueue(t, h.job(t, "fast-job", "fast", nil), runs)
			var (
				src *slowClaims
				cs  *slowCombined
			)
			if combined {
				cs, _ = h.startSlowCombined(t, limit)
				src = cs.slowClaims
			} else {
				src, _ = h.startSlowClaims(t, limit)
			}
			for _, id := range ids {
				h.waitStatus(t, id, connecthub.StatusSuccess)
			}
			if n := calls.Load(); n != runs {
				t.Errorf("%d handler calls, want %d", n, runs)
			}
			n, ahead, overrun, waiting := src.stats()
			if ahead == 0 {
				t.Errorf("none of %d claims asked for more runs than the free slots: no claim ahead", n)
			}
			if len(overrun) > 0 {
				t.Errorf("claims would have held %v runs, more than 3 × Concurrency = %d", overrun, 3*limit)
			}
			if len(waiting) > 0 {
				t.Errorf("claims would have left %v runs waiting for a slot, more than Concurrency = %d", waiting, limit)
			}
			if cs != nil && cs.outcomes.Load() == 0 {
				t.Errorf("no outcome of %d runs was recorded with a claim", runs)
			}
		})
	}
}

// TestNoClaimAheadWithLongRuns: runs that keep their slots leave nothing
// to claim ahead: once the slots are full, the worker claims nothing.
func TestNoClaimAheadWithLongRuns(t *testing.T) {
	t.Parallel()
	const limit = 4
	h := newHarness(t)
	gate := make(chan struct{})
	var started atomic.Int32
	h.handle(t, "slow", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		started.Add(1)
		<-gate
		return nil, nil
	})
	ids := h.enqueue(t, h.job(t, "slow-job", "slow", nil), 3*limit)
	src, w := h.startSlowClaims(t, limit)
	waitFor(t, "the slots to fill", func() bool { return started.Load() == limit })
	waitFor(t, "the claim loop to wait for a slot", func() bool { return w.slotWait.Load()%2 == 1 })
	before, _, _, _ := src.stats()
	if n := countRunning(t, h); n != limit {
		t.Errorf("%d runs RUNNING with the slots full, want %d (none claimed ahead)", n, limit)
	}
	if after, _, _, _ := src.stats(); after != before {
		t.Errorf("%d claims while the slots were full", after-before)
	}
	close(gate)
	for _, id := range ids {
		h.waitStatus(t, id, connecthub.StatusSuccess)
	}
}

// startSlowClaims starts a worker with limit slots whose claims take 3 ms
// on its (fake) clock.
func (h *harness) startSlowClaims(t *testing.T, limit int) (*slowClaims, *Worker) {
	t.Helper()
	src := h.slowClaims(t)
	return src, h.startSlow(t, limit, src, src)
}

// startSlowCombined is startSlowClaims with a Source that records
// outcomes with its claims.
func (h *harness) startSlowCombined(t *testing.T, limit int) (*slowCombined, *Worker) {
	t.Helper()
	slow := h.slowClaims(t)
	src := &slowCombined{slowClaims: slow, local: slow.Source.(*LocalSource)}
	return src, h.startSlow(t, limit, slow, src)
}

// slowClaims is a Source over the harness's store whose claims take 3 ms
// on a fake clock of its own.
func (h *harness) slowClaims(t *testing.T) *slowClaims {
	t.Helper()
	return &slowClaims{Source: h.source(t, "node-a"), clk: clock.NewFake(time.Now()), latency: 3 * time.Millisecond}
}

// startSlow starts a worker with limit slots on src, which claims through
// slow, on slow's clock, and lets slow see the worker.
func (h *harness) startSlow(t *testing.T, limit int, slow *slowClaims, src Source) *Worker {
	t.Helper()
	w := h.start(t, "node-a", src, func(c *Config) {
		c.Concurrency = limit
		c.Clock = slow.clk
	})
	slow.w.Store(w)
	return w
}
