// Package testenv holds the fixtures ConnectHub's tests share: one fake
// clock pattern, a throwaway SQLite store, a logger that reports to the
// test only when it fails, and bounded waits on signals and conditions, so
// that tests never sleep to let time pass.
//
// The clock pattern: production code takes a clock.Clock; a test builds
// one with Clock (or ClockAt for a specific date), passes it in, and moves
// time with Advance or Set. Code that takes a func() time.Time gets the
// fake's Now method. A component that waits arms a timer on the clock, so a
// test waits for "the component is idle" with the fake's BlockUntilTimers
// or WaitFor before moving time.
package testenv

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// Epoch is the time every fake clock starts at unless a test needs another:
// a fixed, ordinary instant (no DST change, not a month end) so that
// results do not depend on the day the tests run.
var Epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// WaitTimeout bounds every wait of a test: long enough for a loaded CI
// machine, short enough that a bug fails the test instead of the suite's
// global timeout.
const WaitTimeout = 10 * time.Second

// Clock returns a fake clock at Epoch.
func Clock() *clock.Fake { return clock.NewFake(Epoch) }

// ClockAt returns a fake clock at start, for tests whose expectations are
// written for a particular date.
func ClockAt(start time.Time) *clock.Fake { return clock.NewFake(start) }

// Context returns a context that ends WaitTimeout from now or when the test
// ends, whichever comes first.
func Context(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), WaitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// Wait waits until ch is closed or receives, and fails the test when that
// takes longer than WaitTimeout. what names the awaited event in the
// failure.
func Wait[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	timer := time.NewTimer(WaitTimeout)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		t.Fatalf("timed out after %s waiting for %s", WaitTimeout, what)
	}
}

// Logger returns a logger that keeps every record (Debug and up) and
// writes them to the test's log when the test fails, so that passing tests
// stay quiet and failing ones tell their story.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("log:\n%s", buf.String())
			mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// SQLite returns a store over a new SQLite database in the test's temporary
// directory, closed when the test ends.
func SQLite(t testing.TB) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "connecthub.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatalf("open the test store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
