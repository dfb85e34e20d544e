package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/store"
)

// longPollSource is a Source whose Claim waits, like a long poll, until it
// is fed runs or its context ends.
type longPollSource struct {
	claims   chan struct{}         // receives when a Claim starts waiting
	feed     chan []*Claimed       // runs for the waiting Claim
	ended    chan error            // receives what a Claim returned with
	stubborn atomic.Bool           // return fed runs even after the context ended
	done     chan store.RunOutcome // receives each completed outcome

	mu       sync.Mutex
	outcomes []store.RunOutcome
}

func newLongPollSource() *longPollSource {
	return &longPollSource{
		claims: make(chan struct{}, 16),
		feed:   make(chan []*Claimed, 1),
		ended:  make(chan error, 16),
		done:   make(chan store.RunOutcome, 16),
	}
}

func (s *longPollSource) ClaimBlocks() bool { return true }

func (s *longPollSource) Claim(ctx context.Context, _ int) ([]*Claimed, error) {
	s.claims <- struct{}{}
	select {
	case runs := <-s.feed:
		s.ended <- nil
		return runs, nil
	case <-ctx.Done():
		if s.stubborn.Load() {
			// The answer was already on its way: the runs arrive anyway.
			runs := <-s.feed
			s.ended <- ctx.Err()
			return runs, nil
		}
		s.ended <- ctx.Err()
		return nil, ctx.Err()
	}
}

func (s *longPollSource) Heartbeat(context.Context, []string) (store.RunHeartbeatResult, error) {
	return store.RunHeartbeatResult{}, nil
}

func (s *longPollSource) AppendLog(context.Context, string, string) error { return nil }

func (s *longPollSource) Complete(_ context.Context, outcomes []store.RunOutcome) error {
	s.mu.Lock()
	s.outcomes = append(s.outcomes, outcomes...)
	s.mu.Unlock()
	for _, o := range outcomes {
		s.done <- o
	}
	return nil
}

func (s *longPollSource) Wake() (<-chan struct{}, <-chan struct{}) { return nil, nil }

func fakeClaimed(id string) []*Claimed {
	return []*Claimed{{Run: &connecthub.Run{
		ID: id, JobID: "job", Status: connecthub.StatusRunning, Attempt: 1, MaxAttempts: 1,
		Snapshot: connecthub.Snapshot{Handler: "h", MaxAttempts: 1},
	}}}
}

// TestPauseInterruptsLongPollAndResume: Pause cuts a waiting claim short
// without counting it as a failure, claims nothing while paused, and
// Resume claims again at once.
func TestPauseInterruptsLongPollAndResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ran := make(chan string, 1)
	h.handle(t, "h", func(_ context.Context, task *handler.Task) (*handler.Result, error) {
		ran <- task.RunID
		return &handler.Result{Message: "ok"}, nil
	})
	src := newLongPollSource()
	w := h.start(t, "node-p", src, nil)
	recv(t, src.claims, "the first claim")

	w.Pause()
	w.Pause() // idempotent
	if !w.Paused() {
		t.Fatal("Paused() = false after Pause")
	}
	if err := recv(t, src.ended, "the claim to be interrupted"); err == nil {
		t.Fatal("the waiting claim was not cancelled by Pause")
	}
	recv(t, w.parked, "the claim loop to park")
	select {
	case <-src.claims:
		t.Fatal("a paused worker claimed")
	default:
	}

	w.Resume()
	w.Resume() // idempotent
	recv(t, src.claims, "a claim after Resume")
	src.feed <- fakeClaimed("run-1")
	if id := recv(t, ran, "the handler"); id != "run-1" {
		t.Fatalf("handler ran %q", id)
	}
	o := recv(t, src.done, "the outcome")
	if o.ID != "run-1" || o.Status != connecthub.StatusSuccess || o.Attempt != 1 {
		t.Errorf("outcome = %s %s attempt %d, want run-1 SUCCESS attempt 1", o.ID, o.Status, o.Attempt)
	}
}

// TestPausedWorkerHandsBackLateRuns: runs that a claim brings after Pause
// are handed back (same attempt), not executed.
func TestPausedWorkerHandsBackLateRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var calls atomic.Int32
	h.handle(t, "h", func(context.Context, *handler.Task) (*handler.Result, error) {
		calls.Add(1)
		return nil, nil
	})
	src := newLongPollSource()
	src.stubborn.Store(true)
	w := h.start(t, "node-p", src, nil)
	recv(t, src.claims, "the first claim")
	w.Pause()
	src.feed <- fakeClaimed("run-late")
	o := recv(t, src.done, "the hand-back")
	if o.ID != "run-late" || o.Status != connecthub.StatusQueued || o.ConsumeAttempt || o.Attempt != 1 {
		t.Errorf("outcome = %+v, want a hand-back of run-late attempt 1", o)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("handler called %d times by a paused worker", n)
	}
}

// TestStopInterruptsLongPoll: Stop does not wait for a long poll to end
// (it would eat the shutdown budget of the runs in flight).
func TestStopInterruptsLongPoll(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.handle(t, "h", func(context.Context, *handler.Task) (*handler.Result, error) { return nil, nil })
	src := newLongPollSource()
	w := h.start(t, "node-p", src, func(c *Config) { c.ShutdownTimeout = time.Minute })
	recv(t, src.claims, "the first claim")
	start := time.Now()
	if err := w.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Stop took %s: it waited for the long poll", took)
	}
	if err := recv(t, src.ended, "the claim to end"); err == nil {
		t.Error("the long poll was not cancelled by Stop")
	}
}

// TestPauseBeforeStartAndLocalSource: Pause works before Start, and a
// LocalSource's claims (not BlockingClaimer) are never cancelled: the
// paused worker simply does not claim, and claims once resumed.
func TestPauseBeforeStartAndLocalSource(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.handle(t, "h", func(context.Context, *handler.Task) (*handler.Result, error) { return nil, nil })
	j := h.job(t, "job", "h", nil)
	cfg := Config{
		Source: h.source(t, "node-l"), Registry: h.reg, Node: "node-l", Concurrency: 2,
		Heartbeat: time.Hour, PollInterval: 10 * time.Millisecond, Logger: h.log,
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.Pause()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	id := h.enqueue(t, j, 1)[0]
	// Parked before its first claim, the loop claims nothing until Resume.
	recv(t, w.parked, "the claim loop to park")
	if run, err := h.st.RunGet(context.Background(), id); err != nil || run.Status != connecthub.StatusQueued {
		t.Fatalf("a worker paused before Start claimed: run %+v, %v", run, err)
	}
	w.Resume()
	h.waitStatus(t, id, connecthub.StatusSuccess)
}
