package worker

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait of these tests. It is generous because the
// suite runs under -race on a 2-core machine; a passing test never waits
// that long.
const waitTimeout = 20 * time.Second

// harness is one test's database, handler registry and keyring.
type harness struct {
	st   *sqlitestore.Store
	reg  *handler.Registry
	keys *secret.Keyring
	log  *slog.Logger
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "connecthub.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.Parse(key, "test.key")
	if err != nil {
		t.Fatal(err)
	}
	return &harness{st: st, reg: handler.NewRegistry(), keys: keys, log: testLogger(t)}
}

// testLogger keeps log lines in memory and prints them only when the test
// failed. Abandoned handler goroutines may log after the test ended, which
// a logger writing to t would turn into a panic.
func testLogger(t testing.TB) *slog.Logger { return testenv.Logger(t) }

// handle registers a handler under name.
func (h *harness) handle(t testing.TB, name string, f handler.Func) {
	t.Helper()
	if err := h.reg.Add(handler.Spec{Name: name, Func: f}); err != nil {
		t.Fatal(err)
	}
}

// job creates a job running handlerName; mod may change it before insert.
func (h *harness) job(t testing.TB, id, handlerName string, mod func(*connecthub.Job)) *connecthub.Job {
	t.Helper()
	return testenv.Job(t, h.st, id, handlerName, mod)
}

// enqueue inserts n manual runs of j and returns their ids.
func (h *harness) enqueue(t testing.TB, j *connecthub.Job, n int) []string {
	t.Helper()
	return testenv.Enqueue(t, h.st, j, time.Now().UTC(), n)
}

// source returns a LocalSource for node with 30s leases, closed when the
// test ends.
func (h *harness) source(t testing.TB, node string) *LocalSource {
	return h.sourceTTL(t, node, 30*time.Second)
}

// sourceTTL is source with another lease TTL.
func (h *harness) sourceTTL(t testing.TB, node string, ttl time.Duration) *LocalSource {
	src := NewLocalSource(h.st, h.keys, node, []string{connecthub.DefaultQueue}, ttl, nil)
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// start builds and starts a worker for node over src (a LocalSource when
// nil). The test defaults leave heartbeats to the cancel wake-up (the
// periodic one is an hour away), so tests that rely on it prove the wake-up
// works. The worker is stopped when the test ends.
func (h *harness) start(t testing.TB, node string, src Source, mod func(*Config)) *Worker {
	t.Helper()
	if src == nil {
		src = h.source(t, node)
	}
	cfg := Config{
		Source:          src,
		Registry:        h.reg,
		Node:            node,
		Concurrency:     4,
		Heartbeat:       time.Hour,
		PollInterval:    20 * time.Millisecond,
		ShutdownTimeout: 10 * time.Second,
		HandlerGrace:    time.Second,
		Logger:          h.log,
	}
	if mod != nil {
		mod(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := w.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return w
}

// waitFor polls cond until it holds, and fails the test after waitTimeout.
// The interval starts at a millisecond and grows to 20ms, so that quick
// conditions are seen at once and slow ones do not steal the CPU (SQLite
// under the race detector is slow) from the worker being tested.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	interval := time.Millisecond
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		timer.Reset(interval)
		<-timer.C
		interval = min(interval*2, 20*time.Millisecond)
	}
}

// waitRun waits until run id satisfies cond and returns it.
func (h *harness) waitRun(t testing.TB, id string, what string, cond func(*connecthub.Run) bool) *connecthub.Run {
	t.Helper()
	var last *connecthub.Run
	waitFor(t, "run "+id+" "+what, func() bool {
		r, err := h.st.RunGet(context.Background(), id)
		if err != nil {
			t.Fatalf("get run %s: %v", id, err)
		}
		last = r
		return cond(r)
	})
	return last
}

// waitStatus waits until run id has the given status.
func (h *harness) waitStatus(t testing.TB, id string, status connecthub.RunStatus) *connecthub.Run {
	t.Helper()
	return h.waitRun(t, id, "to be "+string(status), func(r *connecthub.Run) bool { return r.Status == status })
}

// runLog reads the whole log of a run.
func (h *harness) runLog(t testing.TB, id string) string {
	t.Helper()
	c, err := h.st.RunLogRead(context.Background(), id, 0)
	if err != nil {
		t.Fatalf("read log of %s: %v", id, err)
	}
	return c.Data
}

// recv waits for a value on ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// recordingSource wraps a Source, records the outcomes it is asked to
// complete, and can fail the first Complete calls.
type recordingSource struct {
	Source
	mu        sync.Mutex
	outcomes  []store.RunOutcome
	failFirst int // Complete calls to fail before the real ones
	calls     int
}

func (s *recordingSource) Complete(ctx context.Context, outcomes []store.RunOutcome) error {
	s.mu.Lock()
	s.calls++
	if s.calls <= s.failFirst {
		s.mu.Unlock()
		return errHiccup
	}
	s.outcomes = append(s.outcomes, outcomes...)
	s.mu.Unlock()
	return s.Source.Complete(ctx, outcomes)
}

func (s *recordingSource) recorded(id string) []store.RunOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.RunOutcome
	for _, o := range s.outcomes {
		if o.ID == id {
			out = append(out, o)
		}
	}
	return out
}

type hiccupError struct{}

func (hiccupError) Error() string { return "database is locked (test hiccup)" }

var errHiccup error = hiccupError{}
