package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// TestLocalSourceLogsOnlyForTheHolder: once a run's lease expired and the
// run was rescued, the late log lines of the old execution are dropped,
// whether the run waits in the queue or runs again as a later attempt, on
// another node or on the same one; the holder's own lines are kept.
func TestLocalSourceLogsOnlyForTheHolder(t *testing.T) {
	t.Parallel()
	later := func() time.Time { return time.Now().Add(time.Hour) }
	tests := []struct {
		name string
		// reclaim claims the rescued run again (nil: it stays queued) and
		// returns the source that holds it then.
		reclaim func(h *harness, stale *LocalSource) *LocalSource
	}{
		{"queued again", nil},
		{"claimed by another node", func(h *harness, _ *LocalSource) *LocalSource {
			return NewLocalSource(h.st, h.keys, "node-b", []string{connecthub.DefaultQueue}, time.Minute, later)
		}},
		{"claimed again by the same node", func(h *harness, stale *LocalSource) *LocalSource { return stale }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			h := newHarness(t)
			id := h.enqueue(t, h.job(t, "j", "h", func(j *connecthub.Job) { j.MaxAttempts = 3 }), 1)[0]
			stale := NewLocalSource(h.st, h.keys, "node-a", []string{connecthub.DefaultQueue}, time.Second, nil)
			if c, err := stale.Claim(ctx, 1); err != nil || len(c) != 1 {
				t.Fatalf("claim: %v, %d runs", err, len(c))
			}
			if err := stale.AppendLog(ctx, id, "held line\n"); err != nil {
				t.Fatal(err)
			}
			if _, err := h.st.RunRescue(ctx, time.Now().Add(time.Minute), 10); err != nil {
				t.Fatal(err)
			}
			wantLog := "held line\n"
			if tt.reclaim != nil {
				holder := tt.reclaim(h, stale)
				holder.now = later
				if c, err := holder.Claim(ctx, 1); err != nil || len(c) != 1 || c[0].Run.Attempt != 2 {
					t.Fatalf("claim again: %v, %+v", err, c)
				}
				if err := holder.AppendLog(ctx, id, "attempt 2\n"); err != nil {
					t.Fatal(err)
				}
				wantLog += "attempt 2\n"
				if holder == stale {
					// The same source now holds attempt 2: the old
					// execution's lines are told apart by the worker
					// (see Worker.track), not by the source.
					if got := h.runLog(t, id); got != wantLog {
						t.Errorf("log = %q, want %q", got, wantLog)
					}
					return
				}
			}
			if err := stale.AppendLog(ctx, id, "late line of attempt 1\n"); err != nil {
				t.Errorf("a late line must be dropped without error: %v", err)
			}
			if got := h.runLog(t, id); got != wantLog || strings.Contains(got, "late") {
				t.Errorf("log = %q, want %q", got, wantLog)
			}
		})
	}
}

// TestLocalSourceHeartbeatNamesTheAttempt: a heartbeat for an attempt that
// was rescued reports the run lost even after the same node claimed the
// run again, because the store compares the attempt.
func TestLocalSourceHeartbeatNamesTheAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t)
	id := h.enqueue(t, h.job(t, "j", "h", func(j *connecthub.Job) { j.MaxAttempts = 3 }), 1)[0]
	src := NewLocalSource(h.st, h.keys, "node-a", []string{connecthub.DefaultQueue}, time.Second, nil)
	if c, err := src.Claim(ctx, 1); err != nil || len(c) != 1 {
		t.Fatalf("claim: %v", err)
	}
	if res, err := src.Heartbeat(ctx, []string{id}); err != nil || len(res.Lost) != 0 {
		t.Fatalf("heartbeat of the holder: %+v, %v", res, err)
	}
	if _, err := h.st.RunRescue(ctx, time.Now().Add(time.Minute), 10); err != nil {
		t.Fatal(err)
	}
	if res, err := src.Heartbeat(ctx, []string{id}); err != nil || len(res.Lost) != 1 {
		t.Fatalf("heartbeat after the rescue: %+v, %v; want the run lost", res, err)
	}
	if a := src.attempt(id); a != 0 {
		t.Errorf("a lost attempt is still remembered: %d", a)
	}
}
