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
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/testenv"
)

// fullStore is a real SQLite store whose writes (those this test's server
// makes) fail, while full is set,
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

func (s *fullStore) NodeUpsert(ctx context.Context, n *connecthub.Node) error {
	if s.full.Load() {
		return errInjectedFull
	}
	return s.Store.NodeUpsert(ctx, n)
}

func (s *fullStore) RunComplete(ctx context.Context, outcomes []store.RunOutcome) ([]bool, error) {
	if s.full.Load() {
		return nil, errInjectedFull
	}
	return s.Store.RunComplete(ctx, outcomes)
}

func (s *fullStore) NodeKeepalive(ctx context.Context, p store.NodeKeepaliveParams) (*connecthub.Node, error) {
	if s.full.Load() {
		return nil, errInjectedFull
	}
	n, err := s.Store.NodeKeepalive(ctx, p)
	s.keepalives.Add(1)
	return n, err
}

// TestReadinessSeesAFullDisk checks that a database that answers pings
// but refuses writes turns /health/ready to 503 storage_error after a
// write failed (which answers 503 itself), and that readiness recovers
// through its probe write alone, with no other traffic, once the database
// takes writes again.
func TestReadinessSeesAFullDisk(t *testing.T) {
	t.Parallel()
	st := &fullStore{Store: testenv.SQLite(t)}
	cfg := testConfig(t, t.TempDir())
	cfg.Workers = 1
	cfg.Heartbeat = 20 * time.Second // longer than the test: the probe writes the keepalive that recovers
	reg := handler.NewRegistry()
	if err := builtin.Register(reg, builtin.Options{}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, server.Options{Handlers: reg, LogOutput: io.Discard, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	// Run stops when t.Context ends, just before the cleanups run.
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Run(t.Context()) }()
	t.Cleanup(func() {
		if err := <-stopped; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-stopped:
		stopped <- err // for the cleanup
		t.Fatalf("Run returned before ready: %v", err)
	}
	n := &node{t: t, url: "http://" + srv.Addr()}
	ready := func() (int, string) {
		resp, body := n.get(http.DefaultClient, "/health/ready")
		var got struct{ Status string }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("ready body %q: %v", body, err)
		}
		return resp.StatusCode, got.Status
	}
	if code, status := ready(); code != http.StatusOK {
		t.Fatalf("ready before the fault = %d %q, want 200", code, status)
	}

	// A write in flight when the disk fills up may still succeed; the
	// node's first keepalive must be over before the fault begins.
	for st.keepalives.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	st.full.Store(true)
	resp, body := n.send(http.DefaultClient, n.request(http.MethodPost, "/api/v1/jobs", `{"id":"j1","handler":"noop"}`,
		"Authorization", "Bearer "+nodeToken, "Content-Type", "application/json"))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, store.CodeStorageError) {
		t.Fatalf("POST /api/v1/jobs on a full disk = %d %s, want 503 storage_error", resp.StatusCode, body)
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
