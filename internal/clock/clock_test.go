package clock_test

import (
	"context"
	"testing"
	"time"

	"github.com/connecthub/connecthub/internal/clock"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testCtx bounds a test's waits, so that a bug fails the test instead of
// hanging the suite.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// received reports whether a value is ready on the timer's channel, without
// waiting: with a fake clock, firing is synchronous with Advance and Set.
func received(tm clock.Timer) (time.Time, bool) {
	select {
	case v := <-tm.C():
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeNowAdvanceSet(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	if got := f.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %v, want %v", got, t0)
	}
	f.Advance(90 * time.Second)
	if got, want := f.Now(), t0.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance: Now = %v, want %v", got, want)
	}
	f.Set(t0.Add(-time.Hour))
	if got, want := f.Now(), t0.Add(-time.Hour); !got.Equal(want) {
		t.Fatalf("after Set back: Now = %v, want %v", got, want)
	}
}

func TestFakeTimerFiresAtDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		d     time.Duration
		steps []time.Duration // advances; the timer must fire exactly on the last
	}{
		{"one step", time.Second, []time.Duration{time.Second}},
		{"many steps", 10 * time.Second, []time.Duration{3 * time.Second, 6 * time.Second, 999 * time.Millisecond, time.Millisecond}},
		{"overshoot", time.Second, []time.Duration{time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := clock.NewFake(t0)
			tm := f.NewTimer(tt.d)
			for i, step := range tt.steps {
				f.Advance(step)
				v, ok := received(tm)
				last := i == len(tt.steps)-1
				if ok != last {
					t.Fatalf("step %d (now %v): fired=%v, want %v", i, f.Now(), ok, last)
				}
				if ok && !v.Equal(t0.Add(tt.d)) {
					t.Fatalf("fired with %v, want the deadline %v", v, t0.Add(tt.d))
				}
			}
			if n := f.Timers(); n != 0 {
				t.Fatalf("Timers after firing = %d, want 0", n)
			}
		})
	}
}

func TestFakeTimerNonPositiveFiresAtOnce(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	for _, d := range []time.Duration{0, -time.Second} {
		tm := f.NewTimer(d)
		if _, ok := received(tm); !ok {
			t.Fatalf("NewTimer(%v) did not fire at once", d)
		}
		if tm.Reset(d) {
			t.Fatalf("Reset(%v) on a fired timer returned true", d)
		}
		if _, ok := received(tm); !ok {
			t.Fatalf("Reset(%v) did not fire at once", d)
		}
	}
	if n := f.Timers(); n != 0 {
		t.Fatalf("Timers = %d, want 0", n)
	}
}

func TestFakeTimerStop(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	tm := f.NewTimer(time.Second)
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	if tm.Stop() {
		t.Fatal("second Stop returned true")
	}
	f.Advance(time.Hour)
	if _, ok := received(tm); ok {
		t.Fatal("a stopped timer fired")
	}
}

// TestFakeTimerNoStaleValue checks the Go 1.23 guarantee the scheduler's loop
// relies on: a value sent before Stop or Reset is never received after it.
func TestFakeTimerNoStaleValue(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	tm := f.NewTimer(time.Second)
	f.Advance(time.Second) // fired, value not received
	if tm.Stop() {
		t.Fatal("Stop of a fired timer returned true")
	}
	if _, ok := received(tm); ok {
		t.Fatal("stale value received after Stop")
	}

	tm = f.NewTimer(time.Second)
	f.Advance(time.Second)
	if tm.Reset(time.Minute) {
		t.Fatal("Reset of a fired timer returned true")
	}
	if _, ok := received(tm); ok {
		t.Fatal("stale value received after Reset")
	}
	f.Advance(time.Minute)
	v, ok := received(tm)
	if want := t0.Add(2*time.Second + time.Minute); !ok || !v.Equal(want) {
		t.Fatalf("after Reset: fired=%v value=%v, want %v", ok, v, want)
	}
}

func TestFakeTimerResetPending(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	tm := f.NewTimer(time.Hour)
	if !tm.Reset(time.Second) {
		t.Fatal("Reset of a pending timer returned false")
	}
	f.Advance(time.Second)
	if _, ok := received(tm); !ok {
		t.Fatal("timer did not fire at its new, earlier deadline")
	}
	f.Advance(time.Hour)
	if _, ok := received(tm); ok {
		t.Fatal("timer fired again at its old deadline")
	}
}

func TestFakeSetBackFiresNothing(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	tm := f.NewTimer(time.Minute)
	f.Set(t0.Add(-time.Hour))
	if _, ok := received(tm); ok {
		t.Fatal("timer fired when the clock moved back")
	}
	if got := f.Deadlines(); len(got) != 1 || !got[0].Equal(t0.Add(time.Minute)) {
		t.Fatalf("Deadlines = %v, want [%v]", got, t0.Add(time.Minute))
	}
	f.Set(t0.Add(time.Minute))
	if _, ok := received(tm); !ok {
		t.Fatal("timer did not fire at its deadline after the clock came back")
	}
}

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	late := f.NewTimer(3 * time.Second)
	early := f.NewTimer(time.Second)
	never := f.NewTimer(time.Hour)
	if got := f.Deadlines(); len(got) != 3 || !got[0].Equal(t0.Add(time.Second)) || !got[2].Equal(t0.Add(time.Hour)) {
		t.Fatalf("Deadlines = %v, want earliest first", got)
	}
	f.Advance(5 * time.Second)
	if v, ok := received(early); !ok || !v.Equal(t0.Add(time.Second)) {
		t.Fatalf("early: fired=%v value=%v", ok, v)
	}
	if v, ok := received(late); !ok || !v.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("late: fired=%v value=%v", ok, v)
	}
	if _, ok := received(never); ok {
		t.Fatal("the hour timer fired after 5s")
	}
	if n := f.Timers(); n != 1 {
		t.Fatalf("Timers = %d, want 1", n)
	}
}

// TestFakeBlockUntilTimers drives a goroutine that waits on timers the way a
// scheduler loop does, and checks that the test can step it without sleeping.
func TestFakeBlockUntilTimers(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	f := clock.NewFake(t0)
	ticks := make(chan time.Time)
	go func() {
		tm := f.NewTimer(time.Second)
		for i := 0; i < 3; i++ {
			v := <-tm.C()
			ticks <- v
			tm.Reset(time.Second)
		}
		tm.Stop()
		close(ticks)
	}()
	for i := 1; i <= 3; i++ {
		if err := f.BlockUntilTimersContext(ctx, 1); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		f.Advance(time.Second)
		select {
		case v := <-ticks:
			if want := t0.Add(time.Duration(i) * time.Second); !v.Equal(want) {
				t.Fatalf("tick %d = %v, want %v", i, v, want)
			}
		case <-ctx.Done():
			t.Fatalf("tick %d never came", i)
		}
	}
	if _, ok := <-ticks; ok {
		t.Fatal("unexpected extra tick")
	}
	if n := f.Timers(); n != 0 {
		t.Fatalf("Timers after Stop = %d, want 0", n)
	}
}

func TestFakeBlockUntilTimersRespectsContext(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.BlockUntilTimersContext(ctx, 1); err == nil {
		t.Fatal("BlockUntilTimersContext returned nil with no timer and a canceled context")
	}
	// Zero timers are always "at least 0": no wait at all.
	f.BlockUntilTimers(0)
}

func TestFakeWaitForDeadline(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	f := clock.NewFake(t0)
	want := t0.Add(42 * time.Second)
	go func() {
		tm := f.NewTimer(time.Hour)
		tm.Reset(42 * time.Second)
	}()
	err := f.WaitFor(ctx, func(d []time.Time) bool { return len(d) == 1 && d[0].Equal(want) })
	if err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
}

func TestRealClock(t *testing.T) {
	t.Parallel()
	c := clock.Real()
	before := time.Now()
	if now := c.Now(); now.Before(before) {
		t.Fatalf("Real().Now() = %v, before %v", now, before)
	}
	tm := c.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-testCtx(t).Done():
		t.Fatal("real timer never fired")
	}
	tm = c.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Fatal("Stop of a pending real timer returned false")
	}
	if tm.Reset(time.Millisecond) {
		t.Fatal("Reset of a stopped real timer returned true")
	}
	<-tm.C()
}
