package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connecthub/connecthub/internal/startstop"
)

// finalFlushTimeout bounds how long Stop keeps trying to record the last
// outcomes (including hand-backs) once the runs are over. It is separate
// from the caller's deadline on purpose: handing runs back is what keeps
// their attempts from being consumed by a rescue, so it gets a moment even
// when the shutdown budget was spent waiting for the runs.
const finalFlushTimeout = 5 * time.Second

// Worker executes runs from a Source with at most Concurrency at once. Use
// New, then Start, then Stop.
//
// Its lifecycle is startstop's: cancelling Start's context stops it as Stop
// does (it drains, with ShutdownTimeout as the grace), and a Worker runs
// once: Start after Stop is an error.
type Worker struct {
	startstop.Base
	cfg     Config
	src     Source
	log     *slog.Logger
	metrics *metrics

	// bg lives from Start to the end of Stop; it carries the claims,
	// heartbeats, log flushes and completions. runBase is the parent of
	// every run's context: it carries Start's values but is never
	// cancelled, so that tens of thousands of run contexts a second do not
	// all register with (and contend on) one parent; Stop cancels the runs
	// one by one instead.
	bg          context.Context
	bgCancel    context.CancelFunc
	runBase     context.Context
	claimCtx    context.Context // carries Claim calls; cancelled if one hangs past the shutdown deadline
	claimCancel context.CancelFunc

	// used counts the slots taken (see task.slotRefs): at most
	// Concurrency, since the claim loop claims only for free slots. held
	// counts the runs held (see task.holdRefs): the slots taken plus the
	// outcomes handed to the completer and not committed yet, so at most
	// Concurrency plus the completer's limit (see the package doc).
	used atomic.Int64
	held atomic.Int64
	// pipe counts the tasks in one of the two short phases of their life
	// that end without outside help: from launch to the start of the
	// handler (or to the handover of an outcome decided without it), and
	// from the end of the log flush to the handover of the outcome
	// (including a wait for a place in the completer, which only the
	// completer's writes end). Claiming and writing outcomes wait for these
	// tasks (see claimLoop and completer.next), so that the runs claimed
	// together finish together and their outcomes are written together:
	// full batches, and so few store calls per run, even at small
	// Concurrency. A task in a handler, or flushing its log, is not in the
	// pipe: nothing waits for it.
	pipe atomic.Int64
	// claimWake (buffer 1) wakes the claim loop when a slot was freed or a
	// task left the pipe.
	claimWake chan struct{}
	// runq (unbuffered) hands a started task to an idle runner, a
	// goroutine that executed a run and waits a moment for the next one
	// (see runner).
	runq chan *task

	leaseMu sync.Mutex
	leased  map[string]*task // runs this node holds, by id, for heartbeats

	undecided sync.WaitGroup // runs whose outcome is not decided yet

	stopClaim chan struct{}
	claimDone chan struct{}
	hbStop    chan struct{}
	hbDone    chan struct{}

	// pause is the operator's stop/start of claiming (see pause.go).
	pause pauseState
	// parked (buffer 1) receives a value, without blocking, each time the
	// claim loop parks because the worker is paused: a test signal, so
	// that a test checks "a paused worker claims nothing" once the loop
	// is parked instead of watching for a while.
	parked chan struct{}

	// slotWait is odd while the claim loop waits for a slot or for the
	// pipe, and counts up on every entry and exit: a test signal, so that
	// a test sees the loop waiting, and not about to claim, over the whole
	// time it checks a state (the value is the same before and after).
	slotWait atomic.Int64

	// ahead holds the runs claimed ahead of free slots, in claim order,
	// and estimate how many to claim so (see ahead.go); freed counts the
	// slots freed so far. Only the claim loop touches ahead and estimate.
	ahead    []*task
	estimate aheadEstimator
	freed    atomic.Int64

	comp *completer
	// finalFlush is finalFlushTimeout; tests shorten it.
	finalFlush time.Duration
}

// New checks cfg (after WithDefaults) and returns a Worker ready to Start.
func New(cfg Config) (*Worker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	w := &Worker{
		cfg:       cfg,
		src:       cfg.Source,
		log:       cfg.Logger.With("component", "worker", "node", cfg.Node),
		metrics:   m,
		claimWake: make(chan struct{}, 1),
		runq:      make(chan *task),
		parked:    make(chan struct{}, 1),
		leased:    make(map[string]*task),
		stopClaim: make(chan struct{}),
		claimDone: make(chan struct{}),
		hbStop:    make(chan struct{}),
		hbDone:    make(chan struct{}),

		finalFlush: finalFlushTimeout,
	}
	w.OneShot = true
	w.pause.init(cfg.Source)
	w.comp = newCompleter(cfg.Source, w.log, completerLimit(cfg.Concurrency), &w.pipe, w.committed)
	w.comp.claimDue = w.claimDue
	return w, nil
}

// Start begins claiming and executing runs. ctx provides values (such as
// tracing) to everything the worker does; cancelling it drains the worker
// as Stop does, with ShutdownTimeout as the grace. Start fails when called
// twice or after Stop.
func (w *Worker) Start(ctx context.Context) error {
	runCtx, started, stopped, err := w.StartInit(ctx)
	switch {
	case errors.Is(err, startstop.ErrRunning):
		return errors.New("worker: already started")
	case errors.Is(err, startstop.ErrOneShot):
		return errors.New("worker: stopped; a stopped worker cannot be restarted")
	case err != nil:
		return fmt.Errorf("worker: %w", err)
	}
	base := context.WithoutCancel(ctx)
	w.bg, w.bgCancel = context.WithCancel(base)
	w.runBase = base
	w.claimCtx, w.claimCancel = context.WithCancel(w.bg)
	runsWake, cancelsWake := w.src.Wake()
	w.comp.start(w.bg)
	go w.heartbeatLoop(cancelsWake)
	go w.claimLoop(runsWake)
	go func() {
		<-runCtx.Done()
		stopped(w.drain(w.WindDownContext(runCtx)))
	}()
	started()
	w.log.Info("worker started", "concurrency", w.cfg.Concurrency, "claim_batch", w.cfg.ClaimBatch)
	return nil
}

// Stop drains the worker. It stops claiming at once; the runs in flight get
// until ShutdownTimeout (or ctx's deadline, whichever comes first) to
// finish; then their contexts are cancelled and the unfinished runs are
// handed back (QUEUED, same attempt). A handler that ignores its context is
// abandoned HandlerGrace later and its run handed back all the same. The
// outcomes still pending are then flushed, for at most a few seconds more.
// Stop returns once all that is done, even past ctx's deadline: the drain
// bounds itself.
//
// Stop is safe to call twice (the second call waits for the first) and
// before Start. It returns an error only when outcomes could not be
// recorded; those runs are rescued when their leases expire.
func (w *Worker) Stop(ctx context.Context) error { return w.StopAndWait(ctx) }

// drain is the body of Stop; see there.
func (w *Worker) drain(ctx context.Context) error {
	start := time.Now()
	// deadline ends the grace period of the runs in flight: ShutdownTimeout
	// or ctx's end, whichever comes first.
	deadline, cancelDeadline := context.WithTimeout(ctx, w.cfg.ShutdownTimeout)
	defer cancelDeadline()

	close(w.stopClaim)
	w.pause.interruptClaim() // a long poll in flight must not hold the drain up
	select {
	case <-w.claimDone:
	case <-deadline.Done():
		// A claim hung past the deadline (the database does not answer):
		// give up on it. Runs it may have claimed are rescued later.
		w.claimCancel()
		<-w.claimDone
	}
	// No new run can start from here on, so the runs held can only
	// decrease: the completer need not hold outcomes back any more. It must
	// not, since the outcomes still to come must all be queued before the
	// final flush, even if the database does not answer.
	w.comp.lift()

	decided := make(chan struct{})
	go func() {
		w.undecided.Wait()
		close(decided)
	}()
	select {
	case <-decided:
	default:
		w.log.Info("worker draining", "in_flight", w.held.Load(), "shutdown_timeout", w.cfg.ShutdownTimeout)
		select {
		case <-decided:
		case <-deadline.Done():
			// Cancel what is left. Handlers that honour their context
			// return at once and their runs are handed back; the others
			// are handed back by force HandlerGrace later, so this wait
			// is bounded.
			w.log.Warn("shutdown deadline reached; cancelling the runs in flight and handing them back",
				"in_flight", w.held.Load())
			w.cancelRuns(errShutdown)
			<-decided
		}
	}

	flushCtx, cancelFlush := context.WithTimeout(w.bg, w.finalFlush)
	defer cancelFlush()
	lost, flushErr := w.comp.stop(flushCtx)

	close(w.hbStop)
	w.bgCancel() // interrupts a heartbeat in progress: nothing needs a lease now
	<-w.hbDone
	w.claimCancel()

	w.log.Info("worker stopped", "took", time.Since(start).Round(time.Millisecond), "abandoned", w.used.Load())
	if lost > 0 {
		return fmt.Errorf("worker: %d run outcomes could not be recorded (their leases will expire and the rescuer will take them over): %w", lost, flushErr)
	}
	return nil
}

// Running returns how many runs the worker holds: executing, or finished
// and waiting for their outcome to be recorded, or abandoned and not yet
// returned, or claimed ahead and waiting for a slot. It may exceed
// Concurrency by the outcomes waiting to be recorded and the runs claimed
// ahead (see the package doc's bounds).
func (w *Worker) Running() int { return int(w.held.Load()) }

// claimLoop claims runs for the free slots, as long as the worker runs.
func (w *Worker) claimLoop(wake <-chan struct{}) {
	defer close(w.claimDone)
	defer w.comp.disarmClaim()
	defer w.handBackAhead()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	failures := 0
	var out outage
	for {
		select {
		case <-w.stopClaim:
			return
		default:
		}
		if w.Paused() {
			w.handBackAhead()
			w.comp.disarmClaim()
			if !w.waitUnpaused() {
				return
			}
		}
		w.startAhead()
		w.comp.armClaim()
		// Claim for the free slots, but while tasks in the pipe are about
		// to free theirs, wait for them rather than claim a partial batch
		// now and the rest right after: that would split the slots into
		// several small batches in flight, each costing a claim and a
		// completion. A task in its handler is not in the pipe, so a run
		// waits for no handler to finish. With short runs, claim ahead of
		// the free slots instead (see ahead.go).
		free := w.cfg.Concurrency - int(w.used.Load())
		n := w.claimSize(free)
		if n == 0 {
			w.slotWait.Add(1)
			select {
			case <-w.claimWake:
				w.slotWait.Add(1)
				continue
			case <-w.stopClaim:
				w.slotWait.Add(1)
				return
			}
		}
		claimCtx, claimDone := w.claimContext()
		w.estimate.claimStarted(w.cfg.Clock.Now(), w.freed.Load())
		claimed, err := w.claim(claimCtx, n)
		interrupted := claimDone()
		if err != nil {
			select {
			case <-w.stopClaim:
				return // the claim was interrupted by Stop
			default:
			}
			if interrupted {
				continue // Pause cut a long poll short: not a failure
			}
			failures++
			delay := w.claimBackoff(failures)
			w.log.Error("claiming runs failed; retrying", "err", err, "failures", failures, "retry_in", delay.Round(time.Millisecond))
			// A wake-up does not cut an error back-off short: a flood of
			// notifications must not turn into a flood of failing claims.
			// A store that answers again does (see backOff).
			if !w.backOff(delay, &out) {
				return
			}
			continue
		}
		failures = 0
		out.down = false
		w.estimate.claimEnded(w.cfg.Clock.Now())
		select {
		case <-w.stopClaim:
			// Stop came while the claim was in flight: these runs are
			// ours now, but must not start. Give them back at once.
			for _, c := range claimed {
				w.launch(c, true)
			}
			return
		default:
		}
		// Runs that arrive after a Pause are given back rather than
		// started: a paused node claims nothing. The others start on the
		// free slots, in claim order after those claimed ahead before
		// them, and the rest wait for slots.
		paused := w.Paused()
		for _, c := range claimed {
			if paused {
				w.launch(c, true)
			} else if t := w.hold(c, false); t != nil {
				w.ahead = append(w.ahead, t)
			}
		}
		w.startAhead()
		w.comp.claimsQuiet(len(claimed) < n)
		if len(claimed) >= n {
			continue // a full batch: more may be waiting
		}
		if !w.sleep(timer, wake, w.pollDelay()) {
			return
		}
	}
}

// sleep waits for a wake-up, the delay, or Stop; it reports false on Stop.
// While runs claimed ahead wait for slots, a freed slot wakes it too.
func (w *Worker) sleep(timer *time.Timer, wake <-chan struct{}, d time.Duration) bool {
	w.comp.disarmClaim()
	timer.Reset(d)
	defer timer.Stop()
	var slots <-chan struct{}
	if len(w.ahead) > 0 {
		slots = w.claimWake
	}
	select {
	case <-wake:
		return true
	case <-timer.C:
		return true
	case <-slots:
		return true
	case <-w.stopClaim:
		return false
	}
}

// probeInterval is how often a worker backing off after failed claims
// asks its Source whether the store answers again, so that claiming
// resumes within a second of the end of an outage, whatever back-off the
// outage built up.
const probeInterval = 500 * time.Millisecond

// Prober is implemented by a Source that can tell cheaply, without
// claiming anything, whether its store answers: LocalSource pings the
// database, RemoteSource asks the server. While the worker backs off after
// failed claims, it probes every probeInterval, and claims at once when a
// probe succeeds after one failed: the outage is over, and what was left of
// the back-off would only delay the runs waiting. A probe that succeeds
// while claims keep failing (the store answers but refuses the claims, as
// when its disk is full) does not cut the back-off short.
//
// Probe returns an error wrapping errors.ErrUnsupported when it cannot
// tell; the worker then retries the claim itself every probeInterval. A
// Source that is not a Prober is treated the same way.
type Prober interface {
	Probe(ctx context.Context) error
}

// outage is what the claim loop knows about the store between claims: down
// is set when a probe failed since the last claim that succeeded (or the
// last probe that ended a back-off).
type outage struct{ down bool }

// backOff waits out the claim back-off delay, probing the store on the way
// (see Prober); it reports false on Stop. Its waits are on the configured
// Clock, so that a test can play an outage of any length at once.
func (w *Worker) backOff(delay time.Duration, out *outage) bool {
	prober, _ := w.src.(Prober)
	backoff := w.cfg.Clock.NewTimer(delay)
	defer backoff.Stop()
	probe := w.cfg.Clock.NewTimer(min(probeInterval, delay))
	defer probe.Stop()
	for {
		select {
		case <-w.stopClaim:
			return false
		case <-backoff.C():
			return true
		case <-probe.C():
		}
		if prober == nil {
			return true // the claim is the probe
		}
		// A store that takes longer than the interval to answer a ping
		// does not answer yet: the probe fails rather than hold the loop.
		ctx, cancel := context.WithTimeout(w.claimCtx, 2*probeInterval)
		err := prober.Probe(ctx)
		cancel()
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			return true
		case err != nil:
			out.down = true
		case out.down:
			out.down = false
			w.log.Info("the store answers again; claiming at once")
			return true
		}
		probe.Reset(probeInterval)
	}
}

// pollDelay is PollInterval with ±10% jitter, so that idle workers started
// together do not poll the database in lockstep.
func (w *Worker) pollDelay() time.Duration {
	d := w.cfg.PollInterval
	return d - d/10 + time.Duration(w.cfg.Rand()*float64(d/5))
}

// claimBackoff is the wait after the n-th claim failure in a row: it
// doubles from PollInterval up to 30s.
func (w *Worker) claimBackoff(n int) time.Duration {
	const maxWait = 30 * time.Second
	d := w.cfg.PollInterval
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// launch takes a slot for a claimed run and starts it in a runner; with
// handBack the run is returned to the queue without executing.
func (w *Worker) launch(c *Claimed, handBack bool) {
	if t := w.hold(c, handBack); t != nil {
		w.start(t)
	}
}

// hold makes a task of a claimed run, held by this worker and heartbeated
// from now on, but not started; it returns nil for an empty claim.
func (w *Worker) hold(c *Claimed, handBack bool) *task {
	if c == nil || c.Run == nil {
		w.log.Error("source returned an empty claim; ignoring it")
		return nil
	}
	t := w.newTask(c, handBack)
	w.held.Add(1)
	w.undecided.Add(1)
	w.track(t)
	return t
}

// track registers t for heartbeats. A run id that is already tracked means
// this node lost the run (its lease expired and it was re-queued) and has
// now claimed it again: the old task is stale and must not record anything.
func (w *Worker) track(t *task) {
	id := t.run.ID
	w.leaseMu.Lock()
	old := w.leased[id]
	w.leased[id] = t
	w.leaseMu.Unlock()
	if old != nil {
		w.log.Warn("claimed a run this node was still holding: the old attempt lost its lease", "run_id", id)
		old.markLost()
		w.comp.remove(old)
	}
}

// cancelRuns cancels the context of every run the worker holds.
func (w *Worker) cancelRuns(cause error) {
	w.leaseMu.Lock()
	tasks := make([]*task, 0, len(w.leased))
	for _, t := range w.leased {
		tasks = append(tasks, t)
	}
	w.leaseMu.Unlock()
	for _, t := range tasks {
		t.cancel(cause)
	}
}

// untrack stops heartbeats for t (not for a newer task of the same run).
func (w *Worker) untrack(t *task) {
	w.leaseMu.Lock()
	if w.leased[t.run.ID] == t {
		delete(w.leased, t.run.ID)
	}
	w.leaseMu.Unlock()
}

// committed is called by the completer once t's outcome is recorded (or
// given up on). Only now does the run stop being heartbeated: until its
// outcome is in the database, its lease must not expire.
func (w *Worker) committed(t *task) {
	w.untrack(t)
	t.settle()
}

// releaseSlot frees a slot and wakes the claim loop if it waits for one.
func (w *Worker) releaseSlot() {
	w.used.Add(-1)
	w.freed.Add(1)
	w.wakeClaim()
}

// wakeClaim wakes the claim loop if it waits for a slot or for the pipe.
func (w *Worker) wakeClaim() {
	select {
	case w.claimWake <- struct{}{}:
	default:
	}
}

// pipeLeave records that a task left the pipe, and wakes whoever may be
// waiting for it.
func (w *Worker) pipeLeave() {
	w.pipe.Add(-1)
	w.wakeClaim()
	w.comp.nudge()
}
