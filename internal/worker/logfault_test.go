package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/store"
)

// fullLogSource is a real LocalSource whose log appends of chunks holding
// a given text fail the way the store fails on a full disk. Only the fault
// is faked (a full disk needs a small mount, which needs root); the run,
// its log and its outcome go to a real SQLite database.
type fullLogSource struct {
	Source
	refuse    string // chunks containing it are refused
	refused   atomic.Int32
	firstOnce sync.Once
	first     chan struct{} // closed when a chunk was stored
}

func (s *fullLogSource) AppendLog(ctx context.Context, runID, chunk string) error {
	if strings.Contains(chunk, s.refuse) {
		s.refused.Add(1)
		return store.DBStorage(errors.New("injected: database or disk is full"))
	}
	err := s.Source.AppendLog(ctx, runID, chunk)
	if err == nil {
		s.firstOnce.Do(func() { close(s.first) })
	}
	return err
}

// TestRunLogFailureIsNeverSilent runs a handler whose later log lines
// cannot be stored: the run still ends SUCCESS (a log failure does not
// change the outcome), the stored log ends with the incomplete marker and
// its reason, and the message carries the warning.
func TestRunLogFailureIsNeverSilent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	src := &fullLogSource{Source: h.source(t, "node-a"), refuse: "during the outage", first: make(chan struct{})}
	h.handle(t, "h", func(ctx context.Context, task *handler.Task) (*handler.Result, error) {
		task.Log.Info("before the outage")
		select { // the outage begins once the first line is stored
		case <-src.first:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		for range 50 {
			task.Log.Info("during the outage")
		}
		return &handler.Result{Message: "done"}, nil
	})
	j := h.job(t, "job", "h", nil)
	h.start(t, "node-a", src, nil)
	id := h.enqueue(t, j, 1)[0]

	run := h.waitStatus(t, id, connecthub.StatusSuccess)
	const reason = "the database cannot be written (disk full, read-only or I/O error)"
	if want := "done; log incomplete: " + reason; run.Message != want {
		t.Errorf("message = %q, want %q", run.Message, want)
	}
	log := h.runLog(t, id)
	if !strings.Contains(log, "before the outage\n") || !strings.HasSuffix(log, "\n[LOG INCOMPLETE: "+reason+"]\n") {
		t.Errorf("run log = %q, want the stored line then the incomplete marker", log)
	}
	if strings.Contains(log, "during the outage") || strings.Contains(log, "injected") {
		t.Errorf("run log = %q: refused lines or the driver's error reached it", log)
	}
	if src.refused.Load() == 0 {
		t.Error("no append was refused: the test did not exercise the fault")
	}
}
