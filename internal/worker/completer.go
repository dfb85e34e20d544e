package worker

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connecthub/connecthub/internal/store"
)

// Retry waits of a failed Complete call.
const (
	completeRetryMin = 50 * time.Millisecond
	completeRetryMax = 5 * time.Second
)

// completer records outcomes in groups (group commit): each write takes
// whatever accumulated while the previous one ran, up to MaxBatch per call,
// so a burst of finished runs costs a few calls rather than one per run. A
// failed call is retried with back-off until it succeeds or the final flush
// deadline passes: a database hiccup must not lose outcomes.
//
// The completer holds at most limit outcomes (queued or being written): an
// outcome takes a place when it is added and gives it back once written or
// given up on. add waits while every place is taken. That bound is what lets
// the worker free a run's slot as soon as the outcome is handed over,
// without letting a slow database pile up outcomes (and runs held RUNNING)
// without limit: the waiting goroutines keep their slots, so claiming slows
// down instead. lift removes the bound once no run can be claimed any more,
// so that a shutdown never waits for room that a failing database would not
// make.
//
// Before each write, the completer waits for the tasks still in the
// worker's pipe (see Worker.pipe), which are about to add their outcomes,
// unless a full batch is already queued: a burst of runs that finish
// together is then written in one call rather than one call for the first
// outcome and another for the rest. Tasks waiting for a place are not
// waited for, since only a write can give them one.
type completer struct {
	src       Source
	log       *slog.Logger
	committed func(*task) // called once per outcome after it was recorded or given up
	pipe      *atomic.Int64
	limit     int

	mu      sync.Mutex
	pending []pendingOutcome
	placed  int         // outcomes holding a place, queued or being written
	waitq   []chan bool // add calls waiting for a place, oldest first; true = granted one
	lifted  bool

	// The batch being written and its outcomes, reused from one write to
	// the next; only the completer's goroutine touches recs.
	batch []pendingOutcome
	recs  []store.RunOutcome

	kick     chan struct{} // buffer 1: something changed that a waiting write may want
	stopping chan struct{} // closed by stop: flush everything, then return
	done     chan struct{}

	// ctx carries the Complete calls; stop replaces its deadline with the
	// final flush deadline by cancelling it when that passes.
	ctx    context.Context
	cancel context.CancelFunc

	// Outcomes given up on at the final deadline, and the last error.
	lost    int
	lastErr error
}

type pendingOutcome struct {
	t      *task
	rec    store.RunOutcome
	placed bool // holds a place (false once the bound was lifted)
}

// newCompleter returns a completer that holds at most limit outcomes
// (limit ≥ 1) until lift is called. pipe counts the worker's tasks that are
// about to hand over an outcome (see Worker.pipe).
func newCompleter(src Source, log *slog.Logger, limit int, pipe *atomic.Int64, committed func(*task)) *completer {
	return &completer{
		src:       src,
		log:       log,
		committed: committed,
		pipe:      pipe,
		limit:     limit,
		kick:      make(chan struct{}, 1),
		stopping:  make(chan struct{}),
		done:      make(chan struct{}),
	}
}

func (c *completer) start(ctx context.Context) {
	c.ctx, c.cancel = context.WithCancel(ctx)
	go c.loop()
}

// nudge wakes the completer if it waits for the worker's pipe.
func (c *completer) nudge() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// add queues an outcome. While the completer holds its limit of outcomes,
// add waits until a written one hands its place on, or until lift.
func (c *completer) add(t *task, rec store.RunOutcome) {
	c.mu.Lock()
	placed := false
	switch {
	case c.lifted:
	case c.placed < c.limit:
		c.placed++
		placed = true
	default:
		granted := make(chan bool, 1)
		c.waitq = append(c.waitq, granted)
		c.mu.Unlock()
		c.nudge() // a write must not wait for this task any more
		placed = <-granted
		c.mu.Lock()
	}
	c.pending = append(c.pending, pendingOutcome{t: t, rec: rec, placed: placed})
	c.mu.Unlock()
	c.nudge()
}

// lift removes the bound on the outcomes held: add no longer waits, and
// the adds waiting are let through. The worker calls it once claiming has
// ended, when no new run can add to the outcomes still to come.
func (c *completer) lift() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lifted = true
	for _, granted := range c.waitq {
		granted <- false
	}
	c.waitq = nil
}

// releaseLocked gives back p's place, if it holds one: to the oldest add
// waiting for one, else to the pool. The place is handed on directly, so
// that a task granted one is never counted as waiting (see next).
func (c *completer) releaseLocked(p pendingOutcome) {
	if !p.placed {
		return
	}
	if len(c.waitq) > 0 {
		granted := c.waitq[0]
		c.waitq[0] = nil
		c.waitq = c.waitq[1:]
		granted <- true
		return
	}
	c.placed--
}

// remove drops t's outcome if it is still queued (not yet being written),
// as if it had been given up on.
func (c *completer) remove(t *task) {
	c.mu.Lock()
	i := slices.IndexFunc(c.pending, func(p pendingOutcome) bool { return p.t == t })
	if i < 0 {
		c.mu.Unlock()
		return
	}
	p := c.pending[i]
	c.pending = slices.Delete(c.pending, i, i+1)
	c.mu.Unlock()
	c.committed(p.t)
	c.mu.Lock()
	c.releaseLocked(p)
	c.mu.Unlock()
}

// stop flushes what is pending, giving up when ctx is done, and returns how
// many outcomes were given up and the last error. Every add must have
// returned before stop is called.
func (c *completer) stop(ctx context.Context) (int, error) {
	stopCancel := context.AfterFunc(ctx, c.cancel)
	defer stopCancel()
	close(c.stopping)
	<-c.done
	c.cancel()
	return c.lost, c.lastErr
}

func (c *completer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.kick:
			c.flush(false)
		case <-c.stopping:
			c.flush(true)
			return
		}
	}
}

// flush writes batches until nothing is pending; final means Stop is
// flushing, and nothing is waited for.
func (c *completer) flush(final bool) {
	for {
		batch := c.next(final)
		if len(batch) == 0 {
			return
		}
		c.recs = c.recs[:0]
		for _, p := range batch {
			c.recs = append(c.recs, p.rec)
		}
		c.write(c.recs)
		// The runs are settled before their places are handed on, so that
		// the runs held never exceed what the bound promises.
		for _, p := range batch {
			c.committed(p.t)
		}
		c.mu.Lock()
		for _, p := range batch {
			c.releaseLocked(p)
		}
		clear(batch) // do not keep the tasks alive until the next write
		c.mu.Unlock()
		clear(c.recs)
	}
}

// next takes the next batch to write (nil when nothing is pending). Unless
// final, it first waits for the tasks in the worker's pipe that are not
// waiting for a place, as long as less than a full batch is queued.
func (c *completer) next(final bool) []pendingOutcome {
	full := min(c.limit, MaxBatch)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		n := len(c.pending)
		if n == 0 {
			return nil
		}
		if final || n >= full || c.pipe.Load() <= int64(len(c.waitq)) {
			n = min(n, MaxBatch)
			c.batch = append(c.batch[:0], c.pending[:n]...)
			c.pending = append(c.pending[:0], c.pending[n:]...)
			return c.batch
		}
		c.mu.Unlock()
		select {
		case <-c.kick:
		case <-c.stopping:
			final = true
		}
		c.mu.Lock()
	}
}

// write calls Complete until it succeeds or the completer's context ends.
func (c *completer) write(recs []store.RunOutcome) {
	wait := completeRetryMin
	for failures := 1; ; failures++ {
		err := c.src.Complete(c.ctx, recs)
		if err == nil {
			if failures > 1 {
				c.log.Info("recording run outcomes succeeded after retries", "outcomes", len(recs), "failures", failures-1)
			}
			return
		}
		if c.ctx.Err() != nil {
			c.lost += len(recs)
			c.lastErr = err
			c.log.Error("giving up recording run outcomes; their leases will expire and the rescuer will take the runs over",
				"outcomes", len(recs), "err", err)
			return
		}
		c.log.Warn("recording run outcomes failed; retrying", "outcomes", len(recs), "failures", failures,
			"retry_in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-c.ctx.Done():
			timer.Stop()
		}
		wait = min(wait*2, completeRetryMax)
	}
}
