package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/testenv"
)

// fullStore is a real SQLite store whose writes fail, while full is set,
// with the error the SQLite driver returns for SQLITE_FULL. Only the fault
// is faked: a full disk cannot be made without root (a small mount), and
// the driver's classification of a genuine SQLITE_FULL is tested in
// package sqlitestore with max_page_count.
type fullStore struct {
	store.Store
	full       atomic.Bool
	keepalives atomic.Int32 // keepalives that reached the database
}

var errInjectedFull = store.DBStorage(errors.New("injected: database or disk is full (SQLITE_FULL)"))

func (s *fullStore) JobCreate(ctx context.Context, j *connecthub.Job) error {
	if s.full.Load() {
		return errInjectedFull
	}
	return s.Store.JobCreate(ctx, j)
}

func (s *fullStore) NodeKeepalive(ctx context.Context, p store.NodeKeepaliveParams) (*connecthub.Node, error) {
	if s.full.Load() {
		return nil, errInjectedFull
	}
	s.keepalives.Add(1)
	return s.Store.NodeKeepalive(ctx, p)
}

// TestReadinessSeesAFullDisk checks that a database that answers pings
// but refuses writes turns /health/ready to 503 storage_error after a
// write failed (which answers 503 itself), and that readiness recovers
// through its probe write alone, with no other traffic, once the database
// takes writes again.
func TestReadinessSeesAFullDisk(t *testing.T) {
	t.Parallel()
	const token = "degraded-test-admin-token-0123456789"
	st := &fullStore{Store: testenv.SQLite(t)}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DBURL, cfg.FernetKeyPath = "", ""
	cfg.WithDefaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.Workers = 1
	cfg.Heartbeat = 20 * time.Second // longer than the test: the probe writes the keepalive that recovers
	cfg.AdminToken = config.Secret(token)
	reg := handler.NewRegistry()
	if err := builtin.Register(reg, builtin.Options{}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, server.Options{Handlers: reg, LogOutput: io.Discard, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server never became ready")
	}
	base := "http://" + srv.Addr()
	ready := func() (int, string) {
		t.Helper()
		resp, err := http.Get(base + "/health/ready")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Status string }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body.Status
	}
	if code, status := ready(); code != http.StatusOK {
		t.Fatalf("ready before the fault = %d %q, want 200", code, status)
	}

	st.full.Store(true)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/jobs", strings.NewReader(`{"id":"j1","handler":"noop"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), store.CodeStorageError) {
		t.Fatalf("POST /api/v1/jobs on a full disk = %d %s, want 503 storage_error", resp.StatusCode, b)
	}
	if code, status := ready(); code != http.StatusServiceUnavailable || status != store.CodeStorageError {
		t.Fatalf("ready on a full disk = %d %q, want 503 %q", code, status, store.CodeStorageError)
	}

	before := st.keepalives.Load()
	st.full.Store(false)
	// The probe runs at most once a second: poll until it did.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, status := ready()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ready after the disk was freed = %d %q, want 200", code, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.keepalives.Load() == before {
		t.Error("readiness recovered without a write reaching the database")
	}
}
