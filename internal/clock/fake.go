package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Fake is a Clock whose time moves only when a test calls Advance or Set.
// Timers fire when the fake time reaches their deadline, in deadline order.
//
// A test synchronises with the code under test through the timers: code that
// is about to wait arms a timer, so "the component is idle and waiting" is
// "a timer is pending". BlockUntilTimers and WaitFor block until that is so,
// which lets a test advance time exactly when the component is parked,
// without sleeping. Fake is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	pending map[*fakeTimer]struct{}
	// changed is closed, and replaced, whenever the set of pending timers
	// changes, to wake the waiters of WaitFor; a closed channel is the
	// simplest broadcast that also composes with a context in a select.
	changed chan struct{}
}

// NewFake returns a fake clock that reads start until it is moved.
func NewFake(start time.Time) *Fake {
	return &Fake{
		now:     start,
		pending: make(map[*fakeTimer]struct{}),
		changed: make(chan struct{}),
	}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires when the fake time reaches Now()+d.
// A d of zero or less fires at once.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, ch: make(chan time.Time, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armLocked(t, d)
	return t
}

// Advance moves the fake time forward by d and fires every timer whose
// deadline has come. A negative d moves the time back, as Set does.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(f.now.Add(d))
}

// Set moves the fake time to t, forwards or backwards, and fires every timer
// whose deadline is at or before t. Moving back fires nothing: the deadlines
// of pending timers stay where they were.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLocked(t)
}

// Timers returns the number of pending timers (armed, not yet fired or
// stopped).
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// Deadlines returns the deadlines of the pending timers, earliest first.
func (f *Fake) Deadlines() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deadlinesLocked()
}

// BlockUntilTimers blocks until at least n timers are pending. Prefer
// BlockUntilTimersContext in tests, so that a component that never waits
// fails the test at its deadline instead of hanging it.
func (f *Fake) BlockUntilTimers(n int) {
	_ = f.BlockUntilTimersContext(context.Background(), n)
}

// BlockUntilTimersContext blocks until at least n timers are pending, or
// returns ctx's error.
func (f *Fake) BlockUntilTimersContext(ctx context.Context, n int) error {
	return f.WaitFor(ctx, func(deadlines []time.Time) bool { return len(deadlines) >= n })
}

// WaitFor blocks until cond, called with the deadlines of the pending timers
// (earliest first) each time they change, returns true; or it returns ctx's
// error. It lets a test wait for a specific plan, such as "the component now
// waits until 09:00", rather than for any timer.
func (f *Fake) WaitFor(ctx context.Context, cond func(deadlines []time.Time) bool) error {
	for {
		f.mu.Lock()
		deadlines, changed := f.deadlinesLocked(), f.changed
		f.mu.Unlock()
		// cond runs unlocked, so it may use the clock.
		if cond(deadlines) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (f *Fake) deadlinesLocked() []time.Time {
	out := make([]time.Time, 0, len(f.pending))
	for t := range f.pending {
		out = append(out, t.when)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// setLocked moves the time to now and fires the due timers, earliest first,
// each with its own deadline as the value (the instant a real timer would
// have fired had the time passed continuously).
func (f *Fake) setLocked(now time.Time) {
	f.now = now
	var due []*fakeTimer
	for t := range f.pending {
		if !t.when.After(now) {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		return
	}
	slices.SortFunc(due, func(a, b *fakeTimer) int { return a.when.Compare(b.when) })
	for _, t := range due {
		delete(f.pending, t)
		t.ch <- t.when // never blocks: the buffer is drained on every arm
	}
	f.notifyLocked()
}

// armLocked (re)arms t to fire after d and reports whether it was pending.
func (f *Fake) armLocked(t *fakeTimer, d time.Duration) bool {
	_, was := f.pending[t]
	delete(f.pending, t)
	drain(t.ch)
	t.when = f.now.Add(d)
	if d <= 0 {
		t.ch <- t.when
	} else {
		f.pending[t] = struct{}{}
	}
	f.notifyLocked()
	return was
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// drain empties a timer channel so that no value of an earlier arming is
// received after Stop or Reset, as the Go 1.23 timers guarantee.
func drain(ch chan time.Time) {
	select {
	case <-ch:
	default:
	}
}

type fakeTimer struct {
	f    *Fake
	ch   chan time.Time
	when time.Time // guarded by f.mu
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	_, was := t.f.pending[t]
	drain(t.ch)
	if was {
		delete(t.f.pending, t)
		t.f.notifyLocked()
	}
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.f.armLocked(t, d)
}
