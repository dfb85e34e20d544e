// Package startstop is the lifecycle shared by every background service of
// ConnectHub (the scheduler, the maintenance services, the node's own
// registration, the worker runtime), so that they all agree on what Start,
// Stop and a cancelled context mean:
//
//   - Start(ctx) starts the service. ctx's values reach everything the
//     service does, and cancelling ctx stops the service exactly as Stop
//     does: it winds down (drains, deregisters) and then reports stopped. A
//     caller that wants a service to outlive a context passes
//     context.WithoutCancel(ctx) and stops it explicitly. Start while the
//     service runs is an error.
//   - Stop stops the service and waits until it has wound down. It is safe
//     to call before Start (it does nothing), twice (the second call waits
//     for the first) and concurrently. StopContext is Stop bounded by a
//     context: the wind-down goes on, but the caller stops waiting.
//   - Started and Stopped are channels closed when the service has started
//     and when it has stopped, for tests and for callers that sequence
//     services; they wait on them instead of sleeping.
//
// A service embeds a *Base (or holds one) and builds its Start on
// StartInit: the run context it gets back ends when the service must stop,
// and the service calls started once it runs and stopped once it has wound
// down, usually from its goroutine.
package startstop

import (
	"context"
	"errors"
	"sync"
)

// ErrStop is the cause of a run context that Stop or StopContext ended, as
// opposed to a cancellation of Start's context.
var ErrStop = errors.New("service stopped")

// ErrRunning is returned by StartInit while the service runs.
var ErrRunning = errors.New("service already running")

// ErrOneShot is returned by StartInit of a OneShot service that was stopped.
var ErrOneShot = errors.New("service stopped; it cannot be started again")

// Service is what every background service offers.
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Started() <-chan struct{}
	Stopped() <-chan struct{}
}

// Base implements the lifecycle. Its zero value is ready to use; it must not
// be copied after first use.
type Base struct {
	// OneShot, set before first use, makes Start fail with ErrOneShot once
	// Stop was called (even before Start) or a run ended: for services
	// whose state cannot be reset, such as the worker runtime. Other
	// services may start again after they stopped.
	OneShot bool

	mu      sync.Mutex
	spent   bool // a OneShot service was stopped or ran
	running bool
	cancel  context.CancelCauseFunc
	// started and stopped belong to the current run, or to the next one
	// when none runs; they are made lazily and replaced at each start.
	started chan struct{}
	stopped chan struct{}
	// stopCtx is the context of the first StopContext of the current run,
	// handed to the wind-down; stopErr is what the wind-down reported.
	stopCtx context.Context
	stopErr error
}

func (b *Base) chansLocked() {
	if b.started == nil {
		b.started = make(chan struct{})
		b.stopped = make(chan struct{})
	}
}

// StartInit begins a run. It returns the run context, which carries ctx's
// values and ends when ctx is cancelled or Stop is called (its cause tells
// which: ErrStop for Stop); started, to call once the service runs; and
// stopped, to call exactly once when it has wound down, with the error of
// the wind-down (which StopContext returns). A service whose start fails
// after StartInit calls stopped without started. StartInit returns
// ErrRunning while an earlier run has not called stopped.
func (b *Base) StartInit(ctx context.Context) (runCtx context.Context, started func(), stopped func(error), err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running {
		return nil, nil, nil, ErrRunning
	}
	if b.OneShot && b.spent {
		return nil, nil, nil, ErrOneShot
	}
	b.spent = b.OneShot
	if b.started != nil {
		select {
		case <-b.stopped: // a finished run: the new one gets new channels
			b.started, b.stopped = nil, nil
		default:
		}
	}
	b.chansLocked()
	b.running = true
	b.stopCtx, b.stopErr = nil, nil
	runCtx, b.cancel = context.WithCancelCause(ctx)
	startedCh, stoppedCh, cancel := b.started, b.stopped, b.cancel
	var startOnce, stopOnce sync.Once
	started = func() { startOnce.Do(func() { close(startedCh) }) }
	stopped = func(err error) {
		stopOnce.Do(func() {
			b.mu.Lock()
			b.running = false
			b.stopErr = err
			cancel(ErrStop) // release the context's resources
			// Closed under the lock, so that a StartInit that sees the
			// run over also sees its channels spent.
			close(stoppedCh)
			b.mu.Unlock()
		})
	}
	return runCtx, started, stopped, nil
}

// Started returns a channel closed once the current run has started (the
// last run's after it stopped, the first run's before any start).
func (b *Base) Started() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.chansLocked()
	return b.started
}

// Stopped returns a channel closed once the current run has wound down (the
// last run's after it stopped, the first run's before any start).
func (b *Base) Stopped() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.chansLocked()
	return b.stopped
}

// Stop ends the current run and waits for it to wind down. It does nothing
// when no run is going on.
func (b *Base) Stop() { _ = b.stop(context.Background(), false, context.Background()) }

// StopContext ends the current run and waits for it to wind down, or
// returns ctx's error once ctx ends (the wind-down goes on). It returns the
// error the wind-down reported, and nil when no run was going on.
func (b *Base) StopContext(ctx context.Context) error { return b.stop(ctx, true, ctx) }

// StopAndWait is StopContext for a service whose wind-down bounds itself,
// by the context handed over and limits of its own (the worker runtime's
// drain): it hands ctx over as StopContext does, but waits for the
// wind-down to end even after ctx ended, so that the caller sees its whole
// outcome rather than ctx's error.
func (b *Base) StopAndWait(ctx context.Context) error {
	return b.stop(ctx, true, context.WithoutCancel(ctx))
}

// stop ends the current run, hands ctx over to the wind-down when handOver,
// and waits for the wind-down until wait ends.
func (b *Base) stop(ctx context.Context, handOver bool, wait context.Context) error {
	b.mu.Lock()
	b.spent = b.OneShot
	if !b.running {
		b.mu.Unlock()
		return nil
	}
	if handOver && b.stopCtx == nil {
		b.stopCtx = ctx
	}
	stoppedCh := b.stopped
	b.cancel(ErrStop)
	b.mu.Unlock()
	select {
	case <-stoppedCh:
	case <-wait.Done():
		return context.Cause(wait)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopErr
}

// WindDownContext is the context a service winds down under once its run
// context ended: the context of the first StopContext, whose deadline
// bounds the wind-down, or, when Start's context was cancelled (or Stop was
// called, which sets no deadline), one without a deadline that carries the
// run context's values. Call it after the run context ended.
func (b *Base) WindDownContext(runCtx context.Context) context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopCtx != nil {
		return b.stopCtx
	}
	return context.WithoutCancel(runCtx)
}
