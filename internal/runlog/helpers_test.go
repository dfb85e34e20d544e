package runlog

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// testNow is the fixed time stamped on lines in tests.
var testNow = time.Date(2026, 11, 24, 6, 43, 21, 123_456_789, time.UTC)

// header is what every line logged at level INFO at testNow starts with.
const header = "2026-11-24T06:43:21.123Z INFO "

func fixedNow() time.Time { return testNow }

// testSink records appended chunks and lets a test wait for conditions on
// them instead of sleeping.
type testSink struct {
	mu      sync.Mutex
	chunks  []string // successfully appended chunks, in order
	entered int      // calls that have started
	calls   int      // calls that have returned, failed ones included
	fails   int      // failed calls
	changed chan struct{}
	// failFirst makes the first failFirst calls fail.
	failFirst int
	// failAlways makes every call fail.
	failAlways bool
	// fail, when non-nil, decides the result of each call from its chunk
	// (nil: stored).
	fail func(chunk string) error
	// release, when non-nil, blocks every call until it is closed or the
	// call's context is done.
	release chan struct{}
	// lastCall is the chunk of the last call that returned.
	lastCall string
	// ctxErrs records the context error seen by each call.
	ctxErrs []error
}

func newTestSink() *testSink { return &testSink{changed: make(chan struct{})} }

var errSinkDown = &sinkError{"database is down"}

type sinkError struct{ msg string }

func (e *sinkError) Error() string { return e.msg }

func (s *testSink) AppendLog(ctx context.Context, runID, chunk string) error {
	s.mu.Lock()
	s.entered++
	s.notifyLocked()
	s.mu.Unlock()
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.notifyLocked()
	s.calls++
	s.lastCall = chunk
	s.ctxErrs = append(s.ctxErrs, ctx.Err())
	if err := ctx.Err(); err != nil {
		s.fails++
		return err
	}
	if s.fail != nil {
		if err := s.fail(chunk); err != nil {
			s.fails++
			return err
		}
	}
	if s.failAlways || s.calls <= s.failFirst {
		s.fails++
		return errSinkDown
	}
	if runID == "" {
		panic("AppendLog without a run ID")
	}
	s.chunks = append(s.chunks, chunk)
	return nil
}

func (s *testSink) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// stored returns the log as the database would hold it.
func (s *testSink) stored() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.chunks, "")
}

func (s *testSink) numCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// waitFor blocks until cond holds, re-checking it after every call of the
// Sink. It fails the test after a generous deadline, which only a bug hits.
func (s *testSink) waitFor(t *testing.T, what string, cond func(s *testSink) bool) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := cond(s)
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// newCapture builds a Capture with a test Sink and a fixed clock, and closes
// it when the test ends in case the test did not.
func newCapture(t *testing.T, cfg Config) (*Capture, *testSink) {
	t.Helper()
	sink := newTestSink()
	if cfg.Sink == nil {
		cfg.Sink = sink
	}
	if cfg.RunID == "" {
		cfg.RunID = "run-" + t.Name()
	}
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	c := New(cfg)
	t.Cleanup(func() { _ = c.Close(context.Background()) }) // idempotent
	return c, sink
}

// closeCapture closes c and fails the test on error.
func closeCapture(t *testing.T, c *Capture) {
	t.Helper()
	if err := c.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// bodies returns the log's lines without their time stamps.
func bodies(log string) []string {
	var out []string
	for line := range strings.Lines(log) {
		line = strings.TrimSuffix(line, "\n")
		if len(line) > len("2026-11-24T06:43:21.123Z ") {
			line = line[len("2026-11-24T06:43:21.123Z "):]
		}
		out = append(out, line)
	}
	return out
}
