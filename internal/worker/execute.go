package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/tracing"
)

// The causes a run's context is cancelled with. A handler can read them with
// context.Cause; the worker uses them to decide the outcome.
var (
	errCanceled  = errors.New("run canceled on request")
	errLeaseLost = errors.New("run lease lost: this node no longer holds the run")
	errShutdown  = errors.New("worker shutting down: the run is handed back")
	errFinished  = errors.New("run finished")
)

// timeoutError is the cause of a run context whose Snapshot.Timeout passed.
// Its text is what the run records in `error`.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("%s: run exceeded %s", connecthub.ReasonTimeout, e.d)
}

// logFlushTimeout bounds the final flush of a run's log, so that a sink
// that hangs cannot keep a run from being recorded.
const logFlushTimeout = 10 * time.Second

// task is one claimed run inside the worker.
type task struct {
	w        *Worker
	run      *connecthub.Run
	claimed  *Claimed
	handBack bool // return the run without executing (claimed during Stop)

	ctx       context.Context
	cancelCtx context.CancelCauseFunc // only through cancel, which arms the force timer
	stopTimer context.CancelFunc      // releases the timeout context, if any

	capture *runlog.Capture  // set before the handler starts, nil if it never does
	span    *tracing.RunSpan // the attempt's span; nil when tracing is off

	// decided is set by whoever records the outcome first: the goroutine
	// when its handler returns, or the force timer when it does not.
	decided atomic.Bool
	// entered is set when the handler is about to be called: the task
	// left the worker's pipe then, and report puts it back (see
	// Worker.pipe).
	entered         atomic.Bool
	lost            atomic.Bool
	cancelRequested atomic.Bool

	// slotRefs counts what keeps the task's slot taken: its goroutine
	// (which runs the handler) and its outcome until that is handed to the
	// completer or dropped. The slot is freed at zero, so a handler that
	// returned frees it at once, while one that was abandoned keeps it until
	// it returns.
	slotRefs atomic.Int32
	// holdRefs counts what keeps the run held by this worker (see
	// Worker.held): the slot, and the outcome until it is committed, given
	// up on, or dropped. The run stops counting at zero.
	holdRefs atomic.Int32

	// forceMu guards the force timer's state: inHandler is set when the
	// handler is called, returned when it returns, and forceTimer once
	// the context was cancelled in between.
	forceMu    sync.Mutex
	inHandler  bool
	returned   bool
	forceTimer *time.Timer
}

func (w *Worker) newTask(c *Claimed, handBack bool) *task {
	t := &task{w: w, run: c.Run, claimed: c, handBack: handBack}
	t.slotRefs.Store(2)
	t.holdRefs.Store(2)
	t.ctx, t.cancelCtx = context.WithCancelCause(w.runBase)
	return t
}

// cancel cancels the task's context with cause and, if its handler is
// running, arms the force timer (see armForce). Every cancellation but a
// timeout's comes through here, so a run without a timeout needs no
// context.AfterFunc to learn of it: that would cost every run a
// registration with its context, tens of thousands a second.
func (t *task) cancel(cause error) {
	t.cancelCtx(cause)
	t.armForce()
}

// startTimeout starts the run's timeout, if it has one, when the task
// starts (see Worker.start): a run claimed ahead does not spend its time
// waiting for a slot.
func (t *task) startTimeout() {
	if d := t.run.Snapshot.Timeout.D(); d > 0 && !t.handBack {
		t.ctx, t.stopTimer = context.WithTimeoutCause(t.ctx, d, &timeoutError{d})
	}
}

// unrefSlot drops one reference to the slot; the last one frees it.
func (t *task) unrefSlot() {
	if t.slotRefs.Add(-1) == 0 {
		t.w.releaseSlot()
		t.unhold()
	}
}

// settle records that the outcome is committed, given up on, or dropped.
func (t *task) settle() { t.unhold() }

// unhold drops one reference to the run's hold; the last one stops
// counting the run as held.
func (t *task) unhold() {
	if t.holdRefs.Add(-1) == 0 {
		t.w.held.Add(-1)
		t.w.wakeClaim() // a claim ahead may have waited for room
	}
}

// markLost records that another owner may have the run now: the handler is
// cancelled and nothing about this attempt is recorded any more.
func (t *task) markLost() {
	t.lost.Store(true)
	t.cancel(errLeaseLost)
}

// requestCancel cancels the handler because someone asked to cancel the run.
func (t *task) requestCancel() {
	t.cancelRequested.Store(true)
	t.cancel(errCanceled)
}

// AppendLog is the runlog.Sink of the task's capture: it forwards to the
// Source, except once the lease is lost, so that a late flush never writes
// into the log of an attempt that another worker runs now.
func (t *task) AppendLog(ctx context.Context, runID, chunk string) error {
	if t.lost.Load() {
		return nil
	}
	return t.w.src.AppendLog(ctx, runID, chunk)
}

// callResult is what a handler call produced.
type callResult struct {
	res       *handler.Result
	err       error
	panicked  bool
	traceback string
}

// execute runs the task's handler and records its outcome. It runs in a
// runner (see Worker.runner), which runs nothing else until it returns.
func (w *Worker) execute(t *task) {
	defer t.unrefSlot()
	defer func() {
		t.cancel(errFinished)
		if t.stopTimer != nil {
			t.stopTimer()
		}
	}()

	if t.handBack {
		w.decideNow(t, w.handBackOutcome(t))
		return
	}
	hctx := t.ctx // the handler's context: t.ctx, carrying the attempt's span
	hctx, t.span = w.cfg.Tracing.StartRun(hctx, t.run, w.cfg.Node)
	if t.claimed.Err != nil {
		w.decideNow(t, w.endOutcome(t, connecthub.StatusFailure, t.claimed.Err.Error(), ""))
		return
	}
	name := t.run.Snapshot.Handler
	spec, ok := w.cfg.Registry.Lookup(name)
	if !ok {
		w.decideNow(t, w.endOutcome(t, connecthub.StatusFailure, fmt.Sprintf("unknown handler %q", name), ""))
		return
	}

	t.capture = runlog.New(runlog.Config{
		RunID:    t.run.ID,
		Sink:     t,
		MaxBytes: w.cfg.RunLogMaxBytes,
		Masker:   t.claimed.masker(),
	})
	cfg := t.run.Snapshot.PublicCfg
	if len(cfg) == 0 {
		cfg = json.RawMessage(`{}`)
	}
	ht := &handler.Task{
		RunID:        t.run.ID,
		JobID:        t.run.JobID,
		Attempt:      t.run.Attempt,
		MaxAttempts:  t.run.MaxAttempts,
		Trigger:      string(t.run.Trigger),
		ScheduledFor: t.run.ScheduledFor,
		Config:       cfg,
		Secrets:      t.claimed.Secrets,
		Log:          t.capture.Logger(),
		Upstream:     t.run.Snapshot.Meta.Upstream,
	}

	// The task leaves the pipe before the force timer can be armed, so
	// that report, wherever it runs, sees entered set.
	t.entered.Store(true)
	w.pipeLeave()
	t.enterHandler()
	stopAfter := func() bool { return false }
	if t.stopTimer != nil {
		// The run's timeout cancels its context without going through
		// cancel: only such a run needs to watch its context.
		stopAfter = context.AfterFunc(t.ctx, t.armForce)
	}
	started := time.Now()
	r := call(hctx, spec.Func, ht)
	elapsed := time.Since(started)
	stopAfter()
	t.disarmForce()
	w.metrics.observeDuration(t.run.JobID, elapsed)

	if !t.decided.CompareAndSwap(false, true) {
		w.log.Warn("abandoned handler returned at last; its result is ignored",
			"run_id", t.run.ID, "job_id", t.run.JobID, "handler", name, "ran_for", elapsed.Round(time.Millisecond))
		return
	}
	w.report(t, w.outcomeOf(t, r, context.Cause(t.ctx)))
}

// call runs f, turning a panic into a result with the goroutine's stack.
func call(ctx context.Context, f handler.Func, ht *handler.Task) (r callResult) {
	defer func() {
		if v := recover(); v != nil {
			r = callResult{
				err:       fmt.Errorf("panic: %v", v),
				panicked:  true,
				traceback: string(debug.Stack()),
			}
		}
	}()
	res, err := f(ctx, ht)
	return callResult{res: res, err: err}
}

// enterHandler records that the handler is about to be called, and arms
// the force timer at once if the context is already done (it was
// cancelled before, when there was no handler to force).
func (t *task) enterHandler() {
	t.forceMu.Lock()
	t.inHandler = true
	t.forceMu.Unlock()
	if t.ctx.Err() != nil {
		t.armForce()
	}
}

// armForce runs when the task's context is done: if the handler runs, it
// gives it HandlerGrace to return before the run is ended without it. It
// may be called more than once for one cancellation (cancel, and a
// timeout's watch); only the first arms the timer.
func (t *task) armForce() {
	t.forceMu.Lock()
	defer t.forceMu.Unlock()
	if t.inHandler && !t.returned && t.forceTimer == nil {
		t.forceTimer = time.AfterFunc(t.w.cfg.HandlerGrace, t.force)
	}
}

// disarmForce records that the handler returned, so no force is needed.
func (t *task) disarmForce() {
	t.forceMu.Lock()
	defer t.forceMu.Unlock()
	t.returned = true
	if t.forceTimer != nil {
		t.forceTimer.Stop()
	}
}

// force ends a run whose handler ignored its cancelled context, as if the
// handler had returned the cancellation cause, and abandons the goroutine.
func (t *task) force() {
	if !t.decided.CompareAndSwap(false, true) {
		return
	}
	w := t.w
	cause := context.Cause(t.ctx)
	w.log.Warn("handler did not return after its context was cancelled; abandoning its goroutine, which keeps its slot until it returns",
		"run_id", t.run.ID, "job_id", t.run.JobID, "handler", t.run.Snapshot.Handler,
		"cause", cause, "grace", w.cfg.HandlerGrace)
	w.report(t, w.outcomeOf(t, callResult{err: cause}, cause))
}

// decideNow records an outcome decided without calling the handler.
func (w *Worker) decideNow(t *task, o outcome) {
	t.decided.Store(true)
	w.report(t, o)
}

// outcome is how an attempt ended, before its message is filled in.
type outcome struct {
	drop   bool // record nothing: this node no longer holds the run
	rec    store.RunOutcome
	label  string // status label of connecthub_runs_total; "" = not counted
	resMsg string // the handler's own message
}

// Metric labels for outcomes that are not a terminal status.
const labelRetry = "RETRY"

// The status a run span ends with when the attempt was not decided here.
const (
	spanLeaseLost  = "LEASE_LOST"
	spanHandedBack = "HANDED_BACK"
)

// outcomeOf decides how an attempt ended from what the handler returned and
// why its context was cancelled (nil if it was not).
func (w *Worker) outcomeOf(t *task, r callResult, cause error) outcome {
	if t.lost.Load() || errors.Is(cause, errLeaseLost) {
		return outcome{drop: true}
	}
	if r.panicked {
		// A panic is a bug in the handler: retrying it would repeat it.
		return w.endOutcome(t, connecthub.StatusFailure, r.err.Error(), r.traceback)
	}
	if r.err == nil {
		o := w.endOutcome(t, connecthub.StatusSuccess, "", "")
		if r.res != nil {
			o.resMsg = r.res.Message
			if r.res.Data != nil {
				b, err := json.Marshal(r.res.Data)
				if err != nil {
					return w.endOutcome(t, connecthub.StatusFailure,
						fmt.Sprintf("handler result: Data cannot be encoded as JSON: %v", err), "")
				}
				o.rec.Result = b
			}
		}
		return o
	}
	// The handler failed. A cancel request wins over everything else, so a
	// canceled run is never retried or handed back; a shutdown hands the run
	// back whatever the handler said, since it was interrupted.
	if t.cancelRequested.Load() || errors.Is(cause, errCanceled) {
		return w.endOutcome(t, connecthub.StatusCanceled, connecthub.ReasonCanceled, "")
	}
	if errors.Is(cause, errShutdown) {
		return w.handBackOutcome(t)
	}
	text, retryable := errorText(r.err), !handler.IsPermanent(r.err)
	var te *timeoutError
	if errors.As(cause, &te) {
		text, retryable = te.Error(), true
	}
	if retryable && t.run.Attempt < t.run.MaxAttempts {
		now := w.cfg.Clock.Now()
		backoff := Backoff(t.run.Snapshot.RetryBackoff.D(), w.cfg.RetryBackoffMax, t.run.Attempt, w.cfg.Rand())
		return outcome{
			rec: store.RunOutcome{
				ID:             t.run.ID,
				Node:           w.cfg.Node,
				Status:         connecthub.StatusQueued,
				Error:          text,
				Now:            now,
				RetryAt:        now.Add(backoff),
				ConsumeAttempt: true,
				Attempt:        t.run.Attempt,
			},
			label: labelRetry,
		}
	}
	return w.endOutcome(t, connecthub.StatusFailure, text, "")
}

// errorText is the error chain as the run records it.
func errorText(err error) string {
	if s := err.Error(); s != "" {
		return s
	}
	return fmt.Sprintf("handler returned an error with an empty message (%T)", err)
}

// endOutcome is a terminal outcome.
func (w *Worker) endOutcome(t *task, status connecthub.RunStatus, errText, traceback string) outcome {
	return outcome{
		rec: store.RunOutcome{
			ID:        t.run.ID,
			Node:      w.cfg.Node,
			Status:    status,
			Error:     errText,
			Traceback: traceback,
			Now:       w.cfg.Clock.Now(),
			Attempt:   t.run.Attempt,
		},
		label: string(status),
	}
}

// handBackOutcome puts the run back in the queue with the same attempt.
func (w *Worker) handBackOutcome(t *task) outcome {
	now := w.cfg.Clock.Now()
	return outcome{rec: store.RunOutcome{
		ID:      t.run.ID,
		Node:    w.cfg.Node,
		Status:  connecthub.StatusQueued,
		Now:     now,
		RetryAt: now,
		Attempt: t.run.Attempt,
	}}
}

// report completes the run's log, then hands the outcome to the completer
// (or drops it), which frees the task's slot unless its goroutine is still
// running (abandoned). Handing the outcome over waits while the completer
// holds its limit of outcomes; the slot stays taken meanwhile, which is what
// slows claiming down when outcomes cannot be written fast enough. The run
// stays leased (and heartbeated) until the completer has written the
// outcome. It is called exactly once per task.
func (w *Worker) report(t *task, o outcome) {
	if t.capture != nil {
		if err := t.capture.CloseWithin(w.bg, logFlushTimeout); err != nil && !t.lost.Load() {
			w.log.Warn("flushing the run log failed; the log may be incomplete", "run_id", t.run.ID, "err", err)
		}
	}
	// Back in the pipe (if the handler took it out): from here to the
	// handover, nothing but a place in the completer is waited for.
	if t.entered.Load() {
		w.pipe.Add(1)
	}
	if o.drop || t.lost.Load() {
		w.log.Info("run lease lost; its outcome is not recorded (another worker may own the run now)",
			"run_id", t.run.ID, "job_id", t.run.JobID, "attempt", t.run.Attempt)
		t.span.End(spanLeaseLost, "")
		w.untrack(t)
		t.unrefSlot()
		t.settle()
		w.pipeLeave()
		w.undecided.Done()
		return
	}
	// The message is the handler's message plus a summary of the WARN
	// lines of the log. Every text the run stores is masked with the
	// masker of its log: the run's secrets and the server's own.
	var m *runlog.Masker
	if t.capture != nil {
		m = t.capture.Masker()
		o.rec.Message = t.capture.Message(o.resMsg)
	} else {
		m = t.claimed.masker()
		o.rec.Message = runlog.Message(m.Mask(o.resMsg), nil)
	}
	o.rec.Error = m.Mask(o.rec.Error)
	o.rec.Traceback = m.Mask(o.rec.Traceback)
	o.rec.Result = m.MaskJSON(o.rec.Result)
	if o.label != "" {
		w.metrics.countRun(t.run.JobID, o.label, string(t.run.Trigger))
		t.span.End(o.label, o.rec.Error)
	} else {
		t.span.End(spanHandedBack, "")
	}
	w.comp.add(t, o.rec)
	t.unrefSlot()
	w.pipeLeave()
	w.undecided.Done()
}

// Backoff is the wait before retry number attempt (1 after the first
// failed attempt): base × 2^(attempt-1), capped at limit
// (CONNECTHUB_RETRY_BACKOFF_MAX; 0 means connecthub.MaxRetryBackoff), with
// "equal jitter": half of it is kept and the other half is scaled by r in
// [0, 1). Equal jitter (rather than full jitter) keeps every wait at least
// half the nominal back-off, so a job with retry_backoff 10s is never
// retried after a few milliseconds, while retries of many runs that failed
// together still spread out. A base of 0 means the default, 10s.
func Backoff(base, limit time.Duration, attempt int, r float64) time.Duration {
	if base <= 0 {
		base = connecthub.DefaultRetryBackoff.D()
	}
	if limit <= 0 {
		limit = connecthub.MaxRetryBackoff
	}
	d := min(base, limit)
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	r = min(max(r, 0), 1)
	half := d / 2
	return d - half + time.Duration(r*float64(half))
}
