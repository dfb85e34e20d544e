package worker

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connecthub/connecthub"
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

	// cc is src when it can record outcomes and claim in one call (see
	// completeClaimer); nil otherwise. claimDue reports whether the claim
	// loop would claim right now (it has free slots and does not wait for
	// the pipe). While the claim loop is armed (see armClaim) and a claim
	// is due, the completer leaves its outcomes to that claim.
	cc       completeClaimer
	claimDue func() bool
	armed    atomic.Bool

	mu      sync.Mutex
	pending []pendingOutcome
	placed  int         // outcomes holding a place, queued or being written
	waitq   []chan bool // add calls waiting for a place, oldest first; true = granted one
	lifted  bool

	// Each writer's batch and its outcomes, reused from one write to the
	// next; only that writer's goroutine touches them.
	main, spare writeBuf

	// quiet is set while claiming has gone quiet (see spare.go); writing
	// counts the writes in flight, under mu.
	quiet   atomic.Bool
	writing int

	kick      chan struct{} // buffer 1: something changed that a waiting write may want
	spareKick chan struct{} // buffer 1: the same, for the spare writer
	stopping  chan struct{} // closed by stop: flush everything, then return
	done      chan struct{}
	spareDone chan struct{}

	// ctx carries the Complete calls; stop replaces its deadline with the
	// final flush deadline by cancelling it when that passes.
	ctx    context.Context
	cancel context.CancelFunc

	// Outcomes given up on at the final deadline, and the last error,
	// under mu.
	lost    int
	lastErr error
}

// writeBuf is one writer's batch and the outcomes it sends.
type writeBuf struct {
	batch []pendingOutcome
	recs  []store.RunOutcome
}

type pendingOutcome struct {
	t      *task
	rec    store.RunOutcome
	placed bool // holds a place (false once the bound was lifted)
}

// completerLimit is how many outcomes a worker with concurrency slots
// lets wait to be recorded: twice its slots, a double buffer. With short
// runs on a durable database a write takes a commit's flush, and all the
// slots may finish during it; with room for only one batch, the outcomes
// of the next one waited for room with their slots taken, so the slots
// (and the claims) followed the writes one batch behind, in batches cut
// short. With two, a full batch fills while the previous one is written.
func completerLimit(concurrency int) int { return 2 * concurrency }

// newCompleter returns a completer that holds at most limit outcomes
// (limit ≥ 1) until lift is called. pipe counts the worker's tasks that are
// about to hand over an outcome (see Worker.pipe).
func newCompleter(src Source, log *slog.Logger, limit int, pipe *atomic.Int64, committed func(*task)) *completer {
	cc, _ := src.(completeClaimer)
	if cc != nil && !cc.CompleteAndClaimPays() {
		cc = nil
	}
	return &completer{
		src:       src,
		cc:        cc,
		log:       log,
		committed: committed,
		pipe:      pipe,
		limit:     limit,
		kick:      make(chan struct{}, 1),
		spareKick: make(chan struct{}, 1),
		stopping:  make(chan struct{}),
		done:      make(chan struct{}),
		spareDone: make(chan struct{}),
	}
}

func (c *completer) start(ctx context.Context) {
	c.ctx, c.cancel = context.WithCancel(ctx)
	go c.loop()
	if c.cc == nil {
		go c.spareLoop()
	} else {
		close(c.spareDone) // no spare writer beside the combined call (see spare.go)
	}
}

// nudge wakes the completer's writers if they wait for the worker's pipe
// or for outcomes.
func (c *completer) nudge() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
	c.kickSpare()
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

// room returns how many more outcomes the completer could take now
// without making an add wait: none while adds wait for a place already.
func (c *completer) room() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lifted {
		return c.limit
	}
	return max(0, c.limit-c.placed-len(c.waitq))
}

// lift removes the bound on the outcomes held: add no longer waits, and
// the adds waiting are let through. The worker calls it once claiming has
// ended, when no new run can add to the outcomes still to come.
func (c *completer) lift() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lifted = true
	c.quiet.Store(true) // no claim is coming: the spare writer may help
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
	<-c.spareDone
	c.cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
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
	for c.next(final, &c.main) {
		c.writeBatch(&c.main)
	}
}

// writeBatch writes buf's batch, settles its runs and hands their places
// on.
func (c *completer) writeBatch(buf *writeBuf) {
	buf.recs = buf.recs[:0]
	for _, p := range buf.batch {
		buf.recs = append(buf.recs, p.rec)
	}
	c.write(buf.recs)
	// The runs are settled before their places are handed on, so that
	// the runs held never exceed what the bound promises.
	for _, p := range buf.batch {
		c.committed(p.t)
	}
	c.mu.Lock()
	for _, p := range buf.batch {
		c.releaseLocked(p)
	}
	c.writing--
	clear(buf.batch) // do not keep the tasks alive until the next write
	c.mu.Unlock()
	clear(buf.recs)
}

// takeLocked moves the oldest pending outcomes, at most MaxBatch, into
// buf's batch and counts the write about to start. c.mu must be held.
func (c *completer) takeLocked(buf *writeBuf) {
	n := min(len(c.pending), MaxBatch)
	buf.batch = append(buf.batch[:0], c.pending[:n]...)
	c.pending = append(c.pending[:0], c.pending[n:]...)
	c.writing++
}

// next takes the next batch to write into buf, and reports false when
// nothing is pending. Unless final, it first waits for the tasks in the
// worker's pipe that are not waiting for a place, as long as less than a
// full batch is queued.
func (c *completer) next(final bool, buf *writeBuf) bool {
	full := min(c.limit, MaxBatch)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		n := len(c.pending)
		if n == 0 {
			return false
		}
		if final || c.ready(n >= full) {
			c.takeLocked(buf)
			c.kickSpare() // a write is in flight now: the spare may join it
			return true
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
			c.mu.Lock()
			c.lost += len(recs)
			c.lastErr = err
			c.mu.Unlock()
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

// completeClaimer is a Source that can record outcomes and claim the next
// runs in one call: LocalSource over a store that implements
// store.RunCompleteClaimer. CompleteAndClaim records the outcomes as
// Complete does, then claims up to max runs as Claim does. On an error the
// outcomes may or may not have been recorded, and no run was claimed that
// the caller knows of (a claim whose answer was lost is rescued when its
// leases expire, as with Claim).
//
// The worker passes it only terminal outcomes: recording one of those
// again, after an error that hid its commit, never applies (the run is no
// longer RUNNING, and outcomes carry their attempt), whereas a hand-back
// recorded twice could hand back a later execution of the same attempt.
type completeClaimer interface {
	CompleteAndClaim(ctx context.Context, outcomes []store.RunOutcome, max int) ([]*Claimed, error)
	// CompleteAndClaimPays reports whether the worker should use
	// CompleteAndClaim rather than concurrent Complete and Claim calls
	// (see store.RunCompleteClaimer).
	CompleteAndClaimPays() bool
}

// Combining outcomes with claims. A worker whose handlers finish together
// (short runs) ends one batch and starts the next at the same moment: the
// completer's write and the claim loop's claim are due together. When the
// Source is a completeClaimer, the claim loop takes the terminal outcomes
// waiting in the completer and records them with its claim, in one store
// call (one transaction, one commit). For that, the completer must not
// write them first: while the claim loop is armed (from the top of its
// loop to the claim, or until it sleeps, pauses or stops) and a claim is
// due (Worker.claimDue), the completer leaves its outcomes to the claim.
// Whatever the claim loop does not take (re-queues, more than MaxBatch, or
// everything once it sleeps), the completer writes as before. Every
// outcome is taken under mu by exactly one of them, so none is written
// twice by design or left behind: each change that ends the claim loop's
// claim to them nudges the completer.

// armClaim records that the claim loop is heading for a claim.
func (c *completer) armClaim() {
	if c.cc != nil {
		c.armed.Store(true)
	}
}

// disarmClaim records that the claim loop will not claim before it is
// armed again (it sleeps, waits for a resume, or stops), and wakes the
// completer if it was leaving outcomes to that claim.
func (c *completer) disarmClaim() {
	if c.armed.Swap(false) {
		c.nudge()
	}
}

// ready reports whether the completer should write now (not at the final
// flush): when the worker's pipe has drained, or a full batch is queued.
// While the claim loop is armed, a full batch waits for the pipe too (the
// last task of a batch hands its outcome over before it frees its slot, so
// the claim becomes due only when the pipe has drained), and the outcomes
// are then left to the claim if it is due. c.mu must be held.
func (c *completer) ready(full bool) bool {
	drained := c.pipe.Load() <= int64(len(c.waitq))
	if c.cc == nil || !c.armed.Load() {
		return full || drained
	}
	return drained && !c.leaveToClaim()
}

// leaveToClaim reports whether the completer should leave its pending
// outcomes to the claim loop's next claim. c.mu must be held.
func (c *completer) leaveToClaim() bool {
	if c.cc == nil || !c.armed.Load() || c.claimDue == nil || !c.claimDue() {
		return false
	}
	return slices.ContainsFunc(c.pending, func(p pendingOutcome) bool { return p.rec.Status != connecthub.StatusQueued })
}

// take removes the terminal outcomes waiting to be written (at most
// MaxBatch, oldest first) and returns them, for the claim loop to record
// with its claim. The claim loop stays armed while its call is in flight:
// outcomes that arrive meanwhile wait for its next claim, which follows at
// once, rather than be written alone by a transaction of their own that
// would queue for the same writer (see Worker.claim). If outcomes are left
// (re-queues or beyond MaxBatch), the completer is woken to write them.
func (c *completer) take() []pendingOutcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	var batch []pendingOutcome
	kept := c.pending[:0]
	for _, p := range c.pending {
		if len(batch) < MaxBatch && p.rec.Status != connecthub.StatusQueued {
			batch = append(batch, p)
		} else {
			kept = append(kept, p)
		}
	}
	clear(c.pending[len(kept):])
	c.pending = kept
	if len(c.pending) > 0 {
		c.nudge()
	}
	return batch
}

// putBack returns outcomes that the claim loop could not record to the
// front of the queue, for the completer to write with its retries.
func (c *completer) putBack(batch []pendingOutcome) {
	c.mu.Lock()
	c.pending = append(batch, c.pending...)
	c.mu.Unlock()
	c.nudge()
}

// settled finishes outcomes that the claim loop recorded: the runs are
// settled, then their places handed on, as in flush.
func (c *completer) settled(batch []pendingOutcome) {
	for _, p := range batch {
		c.committed(p.t)
	}
	c.mu.Lock()
	for _, p := range batch {
		c.releaseLocked(p)
	}
	c.mu.Unlock()
}

// claim claims up to n runs for the claim loop. When the Source can, the
// terminal outcomes waiting in the completer are recorded in the same call
// (see completeClaimer); if that call fails they go back to the completer,
// which retries them.
//
// The claim loop stays armed during the call and after a successful one:
// it is about to launch the claimed runs and come back for more, and short
// runs may finish before it is back; their outcomes are then left for its
// next claim rather than written alone. Should it sleep instead (a short
// claim: the queue is empty), sleep disarms it; a failed call disarms it
// at once.
func (w *Worker) claim(ctx context.Context, n int) ([]*Claimed, error) {
	c := w.comp
	if c.cc == nil {
		return w.src.Claim(ctx, n)
	}
	var (
		claimed []*Claimed
		err     error
	)
	if batch := c.take(); len(batch) == 0 {
		claimed, err = w.src.Claim(ctx, n)
	} else {
		recs := make([]store.RunOutcome, len(batch))
		for i, p := range batch {
			recs[i] = p.rec
		}
		if claimed, err = c.cc.CompleteAndClaim(ctx, recs, n); err != nil {
			c.putBack(batch)
		} else {
			c.settled(batch)
		}
	}
	if err != nil {
		// The claim loop backs off now: the completer writes the
		// outcomes with its own retries meanwhile.
		c.disarmClaim()
		return nil, err
	}
	c.armClaim()
	return claimed, nil
}

// claimDue reports whether the claim loop would claim now rather than wait
// (see claimDueFor).
func (w *Worker) claimDue() bool {
	return w.claimDueFor(w.cfg.Concurrency - int(w.used.Load()))
}

// claimDueFor reports whether the claim loop claims with free slots rather
// than wait: a slot is free, and either a full claim batch is free or no
// task in the pipe is about to free more (see Worker.pipe).
func (w *Worker) claimDueFor(free int) bool {
	full := min(w.cfg.ClaimBatch, w.cfg.Concurrency)
	return free > 0 && (free >= full || w.pipe.Load() <= 0)
}
