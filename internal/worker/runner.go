package worker

// Starting runs: a started task goes to a runner, a goroutine reused from
// one run to the next.

import "time"

// start takes a slot for a held task and hands it to an idle runner, or
// to a new one when none waits. The run's timeout counts from here, not
// from the claim.
func (w *Worker) start(t *task) {
	t.startTimeout()
	w.used.Add(1)
	w.pipe.Add(1)
	select {
	case w.runq <- t:
	default:
		go w.runner(t)
	}
}

// runnerIdle is how long a runner waits for its next run before it exits.
const runnerIdle = 5 * time.Second

// runner executes t, then the runs handed to it while it waits, until it
// has waited runnerIdle for one or the worker has stopped. Reusing the
// goroutine matters when runs are short: a new goroutine per run starts
// with a small stack and grows it (copying it) on the way into the
// handler, for every run. At most Concurrency runners execute at once
// (plus abandoned handlers', see force); a runner that finished just as a
// run started may not be waiting yet, so another starts, and the runners
// left over exit after runnerIdle. The idle wait is resource keeping, not
// a decision about a run, so it reads the real clock.
func (w *Worker) runner(t *task) {
	var idle *time.Timer
	for {
		w.execute(t)
		t = nil // keep nothing of the run alive while waiting
		if idle == nil {
			idle = time.NewTimer(runnerIdle)
		} else {
			idle.Reset(runnerIdle)
		}
		select {
		case t = <-w.runq:
		case <-idle.C:
			return
		case <-w.bg.Done(): // the end of Stop
			idle.Stop()
			return
		}
	}
}
