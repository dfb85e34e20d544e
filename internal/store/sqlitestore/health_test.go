package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// TestStorageFaults makes SQLite refuse writes for real, on the store's
// single writer connection: max_page_count pinned to the current size gives
// a genuine SQLITE_FULL (a disk that is full, without needing a small
// mount), and query_only a genuine SQLITE_READONLY. It checks that both
// are classified as storage errors, that a Health watching the store turns
// degraded on the failed write, stays so while its probe still fails, and
// recovers through the probe alone once the fault is lifted.
func TestStorageFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		fault, lift string // %d is the database's page count
	}{
		{"disk full", "PRAGMA max_page_count = %d", "PRAGMA max_page_count = 1073741823"},
		{"read-only", "PRAGMA query_only = 1", "PRAGMA query_only = 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st, err := Open(ctx, filepath.Join(t.TempDir(), "connecthub.db"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })

			var probes atomic.Int32
			var ws store.Store
			h := store.NewHealth(func(ctx context.Context) error {
				return ws.JobCreate(ctx, bigJob(fmt.Sprintf("probe-%d", probes.Add(1))))
			}, time.Nanosecond)
			ws = store.Watch(st, h)

			if err := ws.JobCreate(ctx, bigJob("before")); err != nil {
				t.Fatalf("write before the fault: %v", err)
			}
			var pages int
			if err := st.w.GetContext(ctx, &pages, "PRAGMA page_count"); err != nil {
				t.Fatal(err)
			}
			exec(t, st, tt.fault, pages)

			err = ws.JobCreate(ctx, bigJob("during"))
			if code := store.StoreFailure(err); code != store.CodeStorageError || !connecthub.IsKind(err, connecthub.KindUnavailable) {
				t.Fatalf("write during the fault = %v (code %q), want an unavailable storage_error", err, code)
			}
			if strings.Contains(err.Error(), "INSERT") {
				t.Errorf("the error shows SQL: %v", err)
			}
			if got := h.Status(); got != store.CodeStorageError {
				t.Fatalf("Status after the failed write = %q, want %q", got, store.CodeStorageError)
			}
			if got := h.Check(ctx); got != store.CodeStorageError || probes.Load() != 1 {
				t.Fatalf("Check while the fault lasts = %q after %d probes, want %q after 1", got, probes.Load(), store.CodeStorageError)
			}

			exec(t, st, tt.lift, pages)
			if got := h.Check(ctx); got != "" {
				t.Fatalf("Check after the fault was lifted = %q, want healthy", got)
			}
			if _, err := ws.JobGet(ctx, "probe-2"); err != nil {
				t.Errorf("the probe's write is not there: %v", err)
			}
		})
	}
}

// exec runs a pragma on the writer connection, the only one that writes.
func exec(t *testing.T, st *Store, pragma string, pages int) {
	t.Helper()
	if strings.Contains(pragma, "%d") {
		pragma = fmt.Sprintf(pragma, pages)
	}
	if _, err := st.w.ExecContext(t.Context(), pragma); err != nil {
		t.Fatalf("%s: %v", pragma, err)
	}
}

// bigJob is a valid job whose configuration needs pages of its own, so that
// storing it grows the database.
func bigJob(id string) *connecthub.Job {
	now := time.Now().UTC()
	return &connecthub.Job{
		ID: id, Enabled: true, Timezone: "UTC", Handler: "h",
		PublicCfg:  []byte(`{"pad":"` + strings.Repeat("x", 32<<10) + `"}`),
		SecretKeys: []string{}, MaxAttempts: 1, RetryBackoff: connecthub.Duration(time.Second),
		Concurrency: connecthub.ConcurrencyAllow, Misfire: connecthub.MisfireOnce,
		MisfireWindow: connecthub.DefaultMisfireWindow, Queue: connecthub.DefaultQueue,
		CreatedAt: now, UpdatedAt: now,
	}
}

// TestWatchedStoreKeepsCombinedCall checks that the server's watched
// SQLite store still makes the worker use the combined complete-and-claim
// call, SQLite's fast path.
func TestWatchedStoreKeepsCombinedCall(t *testing.T) {
	t.Parallel()
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "connecthub.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cc, ok := store.Watch(st, store.NewHealth(st.Ping, 0)).(store.RunCompleteClaimer)
	if !ok || !cc.CompleteAndClaimPays() {
		t.Fatalf("watched SQLite store: combined call offered %v, pays %v; want both", ok, ok && cc.CompleteAndClaimPays())
	}
}
