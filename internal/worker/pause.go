package worker

import (
	"context"
	"sync"
)

// BlockingClaimer is implemented by a Source whose Claim may block while it
// waits for runs to arrive (a long poll, like RemoteSource's). The worker
// cancels the context of such a Claim when it pauses or stops, instead of
// waiting for the poll to end. A Source that says so must not lose runs
// when a Claim is cancelled after the server claimed them: the worker
// protocol's server hands them back when the client goes away.
//
// A Source whose Claim returns at once (LocalSource) does not implement it,
// so its claims are never cancelled half-way through a transaction.
type BlockingClaimer interface {
	ClaimBlocks() bool
}

// pauseState is a worker's pause switch and the means to cut a blocking
// claim short. Its zero value is usable after init.
type pauseState struct {
	mu            sync.Mutex
	interruptible bool
	paused        bool
	resumed       chan struct{} // closed by Resume; replaced by Pause
	stopped       bool          // Stop began: every later claim is cancelled at once
	cancelClaim   context.CancelFunc
}

func (p *pauseState) init(src Source) {
	if b, ok := src.(BlockingClaimer); ok && b.ClaimBlocks() {
		p.interruptible = true
	}
	p.resumed = make(chan struct{})
	close(p.resumed)
}

// interruptClaim cancels the claim in flight, if it may be cancelled, and
// every later one: Stop calls it once claiming must end.
func (p *pauseState) interruptClaim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.cancelClaim != nil {
		p.cancelClaim()
	}
}

// Pause stops claiming: the runs in flight go on (and are heartbeated and
// recorded as usual), but no new run is taken until Resume. A long-poll
// claim in flight is cut short; runs it still brings are handed back
// unexecuted. This is the node's ABORT state of the proc API, and what an
// operator's "stop" of the node does. Pause is safe to call at any time,
// twice, and concurrently with Resume; the last call wins.
func (w *Worker) Pause() {
	p := &w.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		return
	}
	p.paused = true
	p.resumed = make(chan struct{})
	if p.cancelClaim != nil {
		p.cancelClaim()
	}
	w.log.Info("worker paused: claiming no new runs; runs in flight go on")
}

// Resume undoes Pause: claiming starts again at once.
func (w *Worker) Resume() {
	p := &w.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		return
	}
	p.paused = false
	close(p.resumed)
	w.log.Info("worker resumed: claiming runs again")
}

// Paused reports whether the worker is paused.
func (w *Worker) Paused() bool {
	w.pause.mu.Lock()
	defer w.pause.mu.Unlock()
	return w.pause.paused
}

// waitUnpaused blocks while the worker is paused; it reports false when
// Stop came meanwhile.
func (w *Worker) waitUnpaused() bool {
	for {
		w.pause.mu.Lock()
		paused, resumed := w.pause.paused, w.pause.resumed
		w.pause.mu.Unlock()
		if !paused {
			return true
		}
		select {
		case w.parked <- struct{}{}:
		default:
		}
		select {
		case <-resumed:
		case <-w.stopClaim:
			return false
		}
	}
}

// claimContext returns the context of one Claim call and a function to
// call when it returned, which reports whether Pause interrupted it. Only
// the claims of a BlockingClaimer get a cancellable context.
func (w *Worker) claimContext() (context.Context, func() bool) {
	p := &w.pause
	if !p.interruptible {
		return w.claimCtx, func() bool { return false }
	}
	ctx, cancel := context.WithCancel(w.claimCtx)
	p.mu.Lock()
	if p.paused || p.stopped {
		// Paused or stopped between the loop's check and here: the
		// claim must not wait.
		cancel()
	}
	p.cancelClaim = cancel
	p.mu.Unlock()
	return ctx, func() bool {
		p.mu.Lock()
		p.cancelClaim = nil
		interrupted := ctx.Err() != nil && w.claimCtx.Err() == nil
		p.mu.Unlock()
		cancel()
		return interrupted
	}
}
