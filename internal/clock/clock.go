// Package clock abstracts time for components that wait for it, such as the
// scheduler, so that tests can drive them with a fake clock instead of
// sleeping: a test moves the fake clock to the next cron slot and watches the
// component fire, deterministically and in microseconds.
//
// Production code takes a Clock and uses Real(); tests pass a *Fake.
package clock

import "time"

// Clock tells the time and makes timers. It is the subset of the time package
// that waiting components need.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d has
	// passed. A d of zero or less fires at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a single-shot timer, like *time.Timer. It follows the Go 1.23
// semantics: after Stop or Reset returns, no value from the earlier arming
// will be received on C.
type Timer interface {
	// C returns the channel on which the timer delivers its time.
	C() <-chan time.Time
	// Stop prevents the timer from firing. It returns true if the call
	// stopped the timer, false if it had already fired or been stopped.
	Stop() bool
	// Reset re-arms the timer to fire after d. It returns true if the timer
	// had been active.
	Reset(d time.Duration) bool
}

// Real returns the system clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{t: time.NewTimer(d)} }

// realTimer adapts *time.Timer, whose C is a field, to the Timer interface.
type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }
