package pgstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/testpg"
)

// TestReadOnlyIsAStorageError opens a second store on a migrated schema
// whose sessions start read-only (default_transaction_read_only), so that
// every write gets a genuine SQLSTATE 25006 from the server, and checks
// that it is a storage error that marks a Health degraded, while reads and
// Ping keep working: readiness cannot learn it from a ping.
func TestReadOnlyIsAStorageError(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	openURL(t, url, Options{}) // migrates the schema
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	ro := openURL(t, url+sep+"default_transaction_read_only=on", Options{})
	ctx := t.Context()

	h := store.NewHealth(nil, 0)
	ws := store.Watch(ro, h)
	now := time.Now().UTC()
	err := ws.JobCreate(ctx, &connecthub.Job{
		ID: "ro", Enabled: true, Timezone: "UTC", Handler: "h", PublicCfg: []byte(`{}`),
		SecretKeys: []string{}, MaxAttempts: 1, RetryBackoff: connecthub.Duration(time.Second),
		Concurrency: connecthub.ConcurrencyAllow, Misfire: connecthub.MisfireOnce,
		MisfireWindow: connecthub.DefaultMisfireWindow, Queue: connecthub.DefaultQueue,
		CreatedAt: now, UpdatedAt: now,
	})
	if !isCode(err, codeReadOnlyTransaction) {
		t.Fatalf("JobCreate on a read-only session = %v, want SQLSTATE 25006", err)
	}
	if got := store.StoreFailure(err); got != store.CodeStorageError {
		t.Errorf("StoreFailure = %q, want %q", got, store.CodeStorageError)
	}
	if got := h.Status(); got != store.CodeStorageError {
		t.Errorf("Health.Status = %q, want %q", got, store.CodeStorageError)
	}
	if err := ro.Ping(ctx); err != nil {
		t.Errorf("Ping of the read-only store = %v, want nil", err)
	}
	if _, err := ro.JobGet(context.WithoutCancel(ctx), "nothing"); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Errorf("a read on the read-only store = %v, want not found", err)
	}
}
