package sqlitestore

import (
	"context"
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
