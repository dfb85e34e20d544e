package startstop_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/connecthub/connecthub/internal/startstop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// loop is the smallest service: a goroutine that waits for its run context
// and then winds down, reporting windDownErr.
type loop struct {
	startstop.Base
	windDownErr error
	// windDown, when not nil, is received from before stopped is called,
	// so a test can hold a wind-down in progress.
	windDown chan struct{}
	// deadline records whether the wind-down context had a deadline.
	deadline chan bool
}

func newLoop() *loop { return &loop{deadline: make(chan bool, 8)} }

func (l *loop) Start(ctx context.Context) error {
	runCtx, started, stopped, err := l.StartInit(ctx)
	if err != nil {
		return err
	}
	go func() {
		started()
		<-runCtx.Done()
		_, ok := l.WindDownContext(runCtx).Deadline()
		l.deadline <- ok
		if l.windDown != nil {
			<-l.windDown
		}
		stopped(l.windDownErr)
	}()
	return nil
}

func (l *loop) Stop(ctx context.Context) error { return l.StopContext(ctx) }

var _ startstop.Service = (*loop)(nil)

// within bounds a test's waits, so that a bug fails instead of hanging.
func within(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wait(t *testing.T, ctx context.Context, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("%s never happened", what)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestStopBeforeStartAndTwice(t *testing.T) {
	t.Parallel()
	l := newLoop()
	l.Stop(context.Background()) // before Start: nothing to do
	l.Base.Stop()
	if closed(l.Started()) || closed(l.Stopped()) {
		t.Fatal("Started or Stopped closed before any Start")
	}
	ctx := within(t)
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, l.Started(), "start")
	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !closed(l.Stopped()) {
		t.Fatal("Stop returned before Stopped closed")
	}
	if err := l.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	l.Base.Stop()
}

func TestStartTwiceFails(t *testing.T) {
	t.Parallel()
	l := newLoop()
	ctx := within(t)
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); !errors.Is(err, startstop.ErrRunning) {
		t.Fatalf("second Start = %v, want ErrRunning", err)
	}
	l.Base.Stop()
}

func TestRestartAfterStopGetsNewChannels(t *testing.T) {
	t.Parallel()
	l := newLoop()
	ctx := within(t)
	for i := range 3 {
		if err := l.Start(ctx); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		wait(t, ctx, l.Started(), "start")
		if closed(l.Stopped()) {
			t.Fatalf("run %d: Stopped is the last run's", i)
		}
		l.Base.Stop()
		if !closed(l.Stopped()) {
			t.Fatalf("run %d: Stopped open after Stop", i)
		}
	}
}

// TestCancelStartContextStops checks the one meaning of a cancelled Start
// context: the service winds down as if Stop had been called.
func TestCancelStartContextStops(t *testing.T) {
	t.Parallel()
	l := newLoop()
	ctx := within(t)
	startCtx, cancel := context.WithCancel(ctx)
	if err := l.Start(startCtx); err != nil {
		t.Fatal(err)
	}
	cancel()
	wait(t, ctx, l.Stopped(), "stop after the Start context was cancelled")
	if <-l.deadline {
		t.Fatal("wind-down after a cancelled Start context had a deadline")
	}
	if err := l.Stop(ctx); err != nil {
		t.Fatalf("Stop after the service stopped itself: %v", err)
	}
}

func TestStopContextHandsOverDeadlineAndError(t *testing.T) {
	t.Parallel()
	l := newLoop()
	l.windDownErr = errors.New("could not deregister")
	ctx := within(t)
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(ctx); !errors.Is(err, l.windDownErr) {
		t.Fatalf("Stop = %v, want the wind-down's error", err)
	}
	if !<-l.deadline {
		t.Fatal("wind-down did not get StopContext's deadline")
	}
}

func TestStopContextGivesUpWaiting(t *testing.T) {
	t.Parallel()
	l := newLoop()
	l.windDown = make(chan struct{})
	ctx := within(t)
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Stop(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with an ended context = %v, want context.Canceled", err)
	}
	if closed(l.Stopped()) {
		t.Fatal("Stopped closed while the wind-down is held")
	}
	if err := l.Start(ctx); !errors.Is(err, startstop.ErrRunning) {
		t.Fatalf("Start during a wind-down = %v, want ErrRunning", err)
	}
	close(l.windDown)
	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRunContextCause(t *testing.T) {
	t.Parallel()
	var b startstop.Base
	runCtx, started, stopped, err := b.StartInit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	started()
	started() // idempotent
	go func() {
		<-runCtx.Done()
		stopped(nil)
		stopped(errors.New("ignored: stopped reports once"))
	}()
	if err := b.StopContext(within(t)); err != nil {
		t.Fatal(err)
	}
	if cause := context.Cause(runCtx); !errors.Is(cause, startstop.ErrStop) {
		t.Fatalf("cause = %v, want ErrStop", cause)
	}
}

// TestFailedStart checks that a service whose start fails after StartInit
// can start again, and that Started stays open for the failed run.
func TestFailedStart(t *testing.T) {
	t.Parallel()
	var b startstop.Base
	_, _, stopped, err := b.StartInit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stopped(errors.New("register failed"))
	if closed(b.Started()) || !closed(b.Stopped()) {
		t.Fatal("a failed start must close Stopped, not Started")
	}
	_, _, stopped, err = b.StartInit(t.Context())
	if err != nil {
		t.Fatalf("start after a failed start: %v", err)
	}
	stopped(nil)
}

// TestConcurrentStartStop races starts and stops of one service; run with
// -race. Every Stop returns once the run it saw has wound down, and no
// goroutine is left behind (goleak).
func TestConcurrentStartStop(t *testing.T) {
	t.Parallel()
	l := newLoop()
	l.deadline = make(chan bool, 1000)
	ctx := within(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if i%2 == 0 {
					_ = l.Start(ctx) // ErrRunning is expected half the time
				} else if err := l.Stop(ctx); err != nil {
					t.Errorf("Stop: %v", err)
				}
				_ = l.Started()
				_ = l.Stopped()
			}
		}()
	}
	wg.Wait()
	l.Base.Stop()
	select {
	case <-l.Stopped():
	default:
		if l.Start(ctx) == nil { // no run: the last one stopped; start and stop one more
			l.Base.Stop()
		}
	}
}

func TestOneShot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  bool // start (and stop) once before the Start under test
	}{
		{"stopped before start", false},
		{"ran once", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLoop()
			l.OneShot = true
			ctx := within(t)
			if tt.run {
				if err := l.Start(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if err := l.Start(ctx); !errors.Is(err, startstop.ErrOneShot) {
				t.Fatalf("Start after Stop = %v, want ErrOneShot", err)
			}
		})
	}
}

func TestStopAndWaitWaitsPastItsContext(t *testing.T) {
	t.Parallel()
	l := newLoop()
	l.windDown = make(chan struct{})
	l.windDownErr = errors.New("2 outcomes lost")
	if err := l.Start(within(t)); err != nil {
		t.Fatal(err)
	}
	ended, cancel := context.WithTimeout(context.Background(), time.Hour)
	cancel()
	done := make(chan error, 1)
	go func() { done <- l.StopAndWait(ended) }()
	if !<-l.deadline {
		t.Fatal("the wind-down did not get StopAndWait's context")
	}
	select {
	case err := <-done:
		t.Fatalf("StopAndWait returned %v before the wind-down ended", err)
	default:
	}
	close(l.windDown)
	if err := <-done; !errors.Is(err, l.windDownErr) {
		t.Fatalf("StopAndWait = %v, want the wind-down's error", err)
	}
}
