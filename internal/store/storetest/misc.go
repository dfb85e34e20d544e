package storetest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func readLog(t *testing.T, s store.Store, id string, offset int64) store.RunLogChunk {
	t.Helper()
	c, err := s.RunLogRead(t.Context(), id, offset)
	if err != nil {
		t.Fatalf("RunLogRead(%s, %d): %v", id, offset, err)
	}
	return c
}

func appendLog(t *testing.T, s store.Store, id, chunk string) {
	t.Helper()
	if err := s.RunLogAppend(t.Context(), id, chunk); err != nil {
		t.Fatalf("RunLogAppend(%s): %v", id, err)
	}
}

func exerciseLogs(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"AppendAndReadFromOffsets": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			parts := []string{"first line\n", "第二行 — ünïcode\n", "", "third\n"}
			for _, p := range parts {
				appendLog(t, s, r.ID, p)
			}
			full := strings.Join(parts, "")
			c := readLog(t, s, r.ID, 0)
			if c.Data != full || c.Next != int64(len(full)) || c.Status != connecthub.StatusRunning {
				t.Fatalf("read from 0 = %+v, want all %d bytes and RUNNING", c, len(full))
			}
			if size := getRun(t, s, r.ID).LogSize; size != int64(len(full)) {
				t.Errorf("log_size = %d, want %d", size, len(full))
			}
			// Every offset, including ones inside a chunk and inside a
			// multi-byte character (offsets are bytes).
			for off := range int64(len(full) + 2) {
				c := readLog(t, s, r.ID, off)
				want := ""
				if off < int64(len(full)) {
					want = full[off:]
				}
				if c.Data != want || c.Next != off+int64(len(want)) {
					t.Fatalf("read from %d = %q next %d, want %q next %d", off, c.Data, c.Next, want, off+int64(len(want)))
				}
			}
			// A follower picks up where it left off.
			appendLog(t, s, r.ID, "fourth\n")
			if c := readLog(t, s, r.ID, int64(len(full))); c.Data != "fourth\n" {
				t.Errorf("follow = %q, want the new line", c.Data)
			}
		},
		"IgnoredUnlessRunning": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			q := queuedRun(t, s, j, t0)
			appendLog(t, s, q.ID, "too early\n")
			if c := readLog(t, s, q.ID, 0); c.Data != "" || c.Status != connecthub.StatusQueued || c.Next != 0 {
				t.Errorf("log of a queued run = %+v, want empty", c)
			}
			r := runningRun(t, s, j, node1, t0)
			appendLog(t, s, r.ID, "during\n")
			complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0})
			appendLog(t, s, r.ID, "late flush\n")
			c := readLog(t, s, r.ID, 0)
			if c.Data != "during\n" || c.Status != connecthub.StatusSuccess {
				t.Errorf("log after a late flush = %+v, want only the running part and SUCCESS", c)
			}
			if size := getRun(t, s, r.ID).LogSize; size != int64(len("during\n")) {
				t.Errorf("log_size = %d after a late flush", size)
			}
			// A run that does not exist (deleted with its job, say) is not RUNNING either.
			appendLog(t, s, ulid.Make().String(), "orphan\n")
		},
		"KeptAcrossAttempts": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 2 })
			r := runningRun(t, s, j, node1, t0)
			appendLog(t, s, r.ID, "attempt 1\n")
			complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusQueued, ConsumeAttempt: true, RetryAt: t0, Error: "x", Now: t0})
			claim(t, s, store.RunClaimParams{Queues: []string{r.Queue}, Now: t0})
			appendLog(t, s, r.ID, "attempt 2\n")
			if c := readLog(t, s, r.ID, 0); c.Data != "attempt 1\nattempt 2\n" {
				t.Errorf("log = %q, want both attempts", c.Data)
			}
		},
		"ReadErrors": func(t *testing.T, s store.Store) {
			_, err := s.RunLogRead(t.Context(), ulid.Make().String(), 0)
			requireKind(t, err, connecthub.KindNotFound)
			j := newJob(t, s, "j")
			r := queuedRun(t, s, j, t0)
			_, err = s.RunLogRead(t.Context(), r.ID, -1)
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}

func exerciseStats(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"Empty": func(t *testing.T, s store.Store) {
			st, err := s.Stats(t.Context(), t0)
			if err != nil {
				t.Fatal(err)
			}
			for _, status := range connecthub.AllStatuses {
				if n, ok := st.Runs[status]; !ok || n != 0 {
					t.Errorf("runs[%s] = %d (present %v), want 0", status, n, ok)
				}
			}
			if len(st.Queues) != 0 || st.Jobs != 0 || st.JobsEnabled != 0 {
				t.Errorf("stats of an empty store = %+v", st)
			}
		},
		"Counts": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			newJob(t, s, "k")
			newJob(t, s, "off", func(j *connecthub.Job) { j.Enabled = false })
			mk := func(queue string, created, available time.Time) {
				r := manualRun(j, created)
				r.Queue = queue
				r.AvailableAt = available
				insertRuns(t, s, r)
			}
			mk("default", t0.Add(-10*time.Second), t0.Add(-10*time.Second))
			mk("default", t0.Add(-90*time.Second), t0.Add(-4*time.Second)) // created first, available later
			mk("backoff", t0.Add(-time.Hour), t0.Add(time.Minute))         // waiting out a back-off
			mk("other", t0.Add(-2500*time.Millisecond), t0.Add(-2500*time.Millisecond))
			runningRun(t, s, j, node1, t0)
			done := runningRun(t, s, j, node1, t0)
			complete(t, s, store.RunOutcome{ID: done.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0})
			failed := runningRun(t, s, j, node1, t0)
			complete(t, s, store.RunOutcome{ID: failed.ID, Node: node1, Status: connecthub.StatusFailure, Now: t0})
			skipped := manualRun(j, t0)
			skipped.Status = connecthub.StatusSkipped
			insertRuns(t, s, skipped)

			st, err := s.Stats(t.Context(), t0)
			if err != nil {
				t.Fatal(err)
			}
			want := map[connecthub.RunStatus]int64{
				connecthub.StatusQueued: 4, connecthub.StatusRunning: 1, connecthub.StatusSuccess: 1,
				connecthub.StatusFailure: 1, connecthub.StatusCanceled: 0, connecthub.StatusSkipped: 1,
			}
			for status, n := range want {
				if st.Runs[status] != n {
					t.Errorf("runs[%s] = %d, want %d", status, st.Runs[status], n)
				}
			}
			if st.Jobs != 3 || st.JobsEnabled != 2 {
				t.Errorf("jobs = %d enabled %d, want 3 and 2", st.Jobs, st.JobsEnabled)
			}
			wantQueues := []connecthub.QueueStats{
				{Queue: "backoff", Depth: 1, OldestAgeSecond: 0},
				{Queue: "default", Depth: 2, OldestAgeSecond: 10},
				{Queue: "other", Depth: 1, OldestAgeSecond: 2.5},
			}
			if len(st.Queues) != len(wantQueues) {
				t.Fatalf("queues = %+v, want %+v", st.Queues, wantQueues)
			}
			for i, w := range wantQueues {
				g := st.Queues[i]
				if g.Queue != w.Queue || g.Depth != w.Depth || math.Abs(g.OldestAgeSecond-w.OldestAgeSecond) > 0.001 {
					t.Errorf("queue %d = %+v, want %+v", i, g, w)
				}
			}
		},
	})
}

func exerciseNotify(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"RunsOnInsert": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			ch := subscribe(t, s, store.TopicRuns)
			queuedRun(t, s, j, t0)
			waitNotified(t, ch, "RunInsert")
		},
		"RunsOnFire": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyAllow)
			ch := subscribe(t, s, store.TopicRuns)
			fire(t, s, fireParams(j, slot1, ptr(slot2), slot1))
			waitNotified(t, ch, "JobsFire")
		},
		"RunsOnRetry": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			ch := subscribe(t, s, store.TopicRuns)
			complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusQueued, ConsumeAttempt: true, RetryAt: t0, Now: t0})
			waitNotified(t, ch, "a retry")
		},
		"JobsOnCreateUpdateDelete": func(t *testing.T, s store.Store) {
			ch := subscribe(t, s, store.TopicJobs)
			newJob(t, s, "j")
			waitNotified(t, ch, "JobCreate")
			if _, err := s.JobUpdate(t.Context(), "j", func(j *connecthub.Job) error { j.Priority = 1; return nil }); err != nil {
				t.Fatal(err)
			}
			waitNotified(t, ch, "JobUpdate")
			if err := s.JobDelete(t.Context(), "j"); err != nil {
				t.Fatal(err)
			}
			waitNotified(t, ch, "JobDelete")
		},
		"CancelOnRunningCancel": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			ch := subscribe(t, s, store.TopicCancel)
			if _, err := s.RunCancel(t.Context(), r.ID, t0); err != nil {
				t.Fatal(err)
			}
			waitNotified(t, ch, "RunCancel of a running run")
		},
		"Coalesces": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			ch := subscribe(t, s, store.TopicRuns)
			other := subscribe(t, s, store.TopicRuns)
			for range 3 {
				queuedRun(t, s, j, t0)
			}
			waitNotified(t, ch, "three inserts")
			waitNotified(t, other, "three inserts (second subscriber)")
		},
		"Unsubscribe": func(t *testing.T, s store.Store) {
			ch, unsubscribe := s.Subscribe(store.TopicJobs)
			unsubscribe()
			unsubscribe() // safe twice
			newJob(t, s, "j")
			select {
			case <-ch:
				// A notification sent before the unsubscribe took effect is
				// allowed; what matters is that nothing blocks or panics.
			default:
			}
		},
	})
}

func exerciseLifecycle(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"Ping": func(t *testing.T, s store.Store) {
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		},
		"CloseTwice": func(t *testing.T, s store.Store) {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			// A closed store answers with an error, not a panic or a hang.
			if err := s.Ping(t.Context()); err == nil {
				t.Error("Ping after Close succeeded")
			}
			if _, err := s.JobGet(t.Context(), "j"); err == nil {
				t.Error("JobGet after Close succeeded")
			}
		},
	})
}
