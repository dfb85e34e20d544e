package sqlitestore

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// TestTokenTouchSkipsTheWriter shows that a touch within the minute never
// waits for the only writer connection: authenticating a request must not
// queue behind the run queue's writes. A touch that is due does wait for
// it, which shows that the test holds the writer.
func TestTokenTouchSkipsTheWriter(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ctx := t.Context()
	tok := &connecthub.Token{ID: "tok_1", Name: "one", Scope: connecthub.ScopeWorker, Hash: "h", CreatedAt: t0}
	if err := s.TokenCreate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.TokenTouch(ctx, tok.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.JobCreate(ctx, testJob("j")); err != nil {
		t.Fatal(err)
	}

	// Hold the writer: a JobUpdate whose callback waits.
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.JobUpdate(ctx, "j", func(*connecthub.Job) error {
			close(holding)
			<-release
			return nil
		})
		done <- err
	}()
	<-holding
	defer func() {
		close(release)
		if err := <-done; err != nil {
			t.Errorf("JobUpdate: %v", err)
		}
	}()

	recent, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.TokenTouch(recent, tok.ID, t0.Add(30*time.Second)); err != nil {
		t.Fatalf("a touch within the minute waited for the writer: %v", err)
	}
	due, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.TokenTouch(due, tok.ID, t0.Add(time.Hour)); !connecthub.IsKind(err, connecthub.KindUnavailable) {
		t.Fatalf("a due touch while the writer is held = %v, want it to wait and time out", err)
	}
}

// TestMigrationBindsExistingWorkerTokens: worker tokens created before
// tokens had a binding keep working, bound to node names starting with
// their name and to the default queue; admin tokens stay unbound.
func TestMigrationBindsExistingWorkerTokens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "connecthub.db")
	db, p := migrationProvider(t, path)
	if _, err := p.UpTo(t.Context(), 4); err != nil {
		t.Fatalf("migrate to version 4: %v", err)
	}
	for _, row := range []struct{ id, name, scope string }{{"tok_w", "edge-1", "worker"}, {"tok_a", "ops", "admin"}} {
		if _, err := db.ExecContext(t.Context(), `INSERT INTO tokens (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			row.id, row.name, row.scope, "h-"+row.id, t0.UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, tt := range []struct {
		hash, prefix string
		queues       []string
	}{{"h-tok_w", "edge-1", []string{connecthub.DefaultQueue}}, {"h-tok_a", "", nil}} {
		tok, err := s.TokenByHash(t.Context(), tt.hash)
		if err != nil {
			t.Fatal(err)
		}
		if tok.NodePrefix != tt.prefix || !slices.Equal(tok.Queues, tt.queues) {
			t.Errorf("token %s after the migration: node_prefix %q, queues %q; want %q, %q", tok.Name, tok.NodePrefix, tok.Queues, tt.prefix, tt.queues)
		}
	}
}
