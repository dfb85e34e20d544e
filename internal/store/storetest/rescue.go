package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func exerciseCancel(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"Queued": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := queuedRun(t, s, j, t0)
			now := t0.Add(time.Second)
			got, err := s.RunCancel(t.Context(), r.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*connecthub.Run{got, getRun(t, s, r.ID)} {
				if c.Status != connecthub.StatusCanceled {
					t.Errorf("status = %s, want CANCELED", c.Status)
				}
				checkTimePtr(t, "finished_at", ptr(now), c.FinishedAt)
			}
			if claimed := claim(t, s, store.RunClaimParams{Now: now}); len(claimed) != 0 {
				t.Errorf("claimed a canceled run")
			}
		},
		"Running": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			cancel := subscribe(t, s, store.TopicCancel)
			got, err := s.RunCancel(t.Context(), r.ID, t0.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			waitNotified(t, cancel, "a cancel request")
			for _, c := range []*connecthub.Run{got, getRun(t, s, r.ID)} {
				if c.Status != connecthub.StatusRunning || !c.CancelRequested || c.FinishedAt != nil {
					t.Errorf("status=%s cancel_requested=%v finished_at=%v, want RUNNING, true, nil", c.Status, c.CancelRequested, c.FinishedAt)
				}
			}
			// Asking again is harmless; the worker ends the run.
			if _, err := s.RunCancel(t.Context(), r.ID, t0.Add(2*time.Second)); err != nil {
				t.Errorf("second cancel: %v", err)
			}
			if applied := complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusCanceled, Error: connecthub.ReasonCanceled, Now: t0.Add(3 * time.Second)}); !applied[0] {
				t.Fatal("the worker's CANCELED outcome was not applied")
			}
			checkStatus(t, s, r.ID, connecthub.StatusCanceled)
		},
		"Terminal": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusFailure, Now: t0})
			_, err := s.RunCancel(t.Context(), r.ID, t0)
			requireCode(t, err, connecthub.KindConflict, "run_finished", r.ID, string(connecthub.StatusFailure))
			checkStatus(t, s, r.ID, connecthub.StatusFailure)
			// A cancel without a time is refused before anything is read.
			_, err = s.RunCancel(t.Context(), r.ID, time.Time{})
			requireKind(t, err, connecthub.KindInvalid)
			q := queuedRun(t, s, j, t0)
			if _, err := s.RunCancel(t.Context(), q.ID, t0); err != nil {
				t.Fatal(err)
			}
			_, err = s.RunCancel(t.Context(), q.ID, t0)
			requireKind(t, err, connecthub.KindConflict)
		},
		"NotFound": func(t *testing.T, s store.Store) {
			_, err := s.RunCancel(t.Context(), ulid.Make().String(), t0)
			requireKind(t, err, connecthub.KindNotFound)
		},
	})
}

func exerciseRescue(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"RequeuesWithAttemptsLeft": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 2 })
			r := runningRun(t, s, j, node1, t0)
			now := t0.Add(ttl + time.Second)
			runs := subscribe(t, s, store.TopicRuns)
			rescued, err := s.RunRescue(t.Context(), now, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(rescued) != 1 || rescued[0].ID != r.ID {
				t.Fatalf("rescued %v, want %s", ids(rescued), r.ID)
			}
			waitNotified(t, runs, "a rescue re-queued a run")
			for _, got := range []*connecthub.Run{rescued[0], getRun(t, s, r.ID)} {
				if got.Status != connecthub.StatusQueued || got.Attempt != 2 {
					t.Errorf("rescued run is %s attempt %d, want QUEUED attempt 2", got.Status, got.Attempt)
				}
				checkTime(t, "available_at", now, got.AvailableAt)
				if len(got.Attempts) != 1 || got.Attempts[0].Error != connecthub.ReasonWorkerLost ||
					got.Attempts[0].Attempt != 1 || got.Attempts[0].Node != node1 {
					t.Errorf("attempts = %+v, want one %q entry for attempt 1 on %s", got.Attempts, connecthub.ReasonWorkerLost, node1)
				}
			}
			again := claim(t, s, store.RunClaimParams{Node: node2, Queues: []string{r.Queue}, Now: now})
			if len(again) != 1 || again[0].Attempt != 2 {
				t.Fatalf("re-claim = %+v", again)
			}
		},
		"FailsWithoutAttemptsLeft": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 1 })
			r := runningRun(t, s, j, node1, t0)
			now := t0.Add(time.Hour)
			rescued, err := s.RunRescue(t.Context(), now, 10)
			if err != nil || len(rescued) != 1 {
				t.Fatalf("RunRescue = %v, %v", ids(rescued), err)
			}
			for _, got := range []*connecthub.Run{rescued[0], getRun(t, s, r.ID)} {
				if got.Status != connecthub.StatusFailure || got.Error != connecthub.ReasonWorkerLost {
					t.Errorf("rescued run is %s with error %q, want FAILURE %q", got.Status, got.Error, connecthub.ReasonWorkerLost)
				}
				checkTimePtr(t, "finished_at", ptr(now), got.FinishedAt)
			}
		},
		"CancelRequestedEndsCanceled": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			r := runningRun(t, s, j, node1, t0)
			if _, err := s.RunCancel(t.Context(), r.ID, t0); err != nil {
				t.Fatal(err)
			}
			rescued, err := s.RunRescue(t.Context(), t0.Add(time.Hour), 10)
			if err != nil || len(rescued) != 1 {
				t.Fatalf("RunRescue = %v, %v", ids(rescued), err)
			}
			checkStatus(t, s, r.ID, connecthub.StatusCanceled)
		},
		"LeavesLiveLeases": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			expired := runningRun(t, s, j, node1, t0.Add(-time.Minute))
			exact := runningRun(t, s, j, node1, t0.Add(-ttl)) // expires exactly now
			live := runningRun(t, s, j, node1, t0)
			queuedRun(t, s, j, t0.Add(-time.Hour))
			rescued, err := s.RunRescue(t.Context(), t0, 10)
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "rescued", []string{expired.ID}, ids(rescued))
			for _, r := range []*connecthub.Run{exact, live} {
				got := checkStatus(t, s, r.ID, connecthub.StatusRunning)
				checkTimePtr(t, "lease_expires_at", r.LeaseExpiresAt, got.LeaseExpiresAt)
				if got.Attempt != 1 || got.Node != node1 {
					t.Errorf("untouched run changed: attempt %d node %s", got.Attempt, got.Node)
				}
			}
		},
		"Limit": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			for range 3 {
				runningRun(t, s, j, node1, t0)
			}
			now := t0.Add(time.Hour)
			first, err := s.RunRescue(t.Context(), now, 2)
			if err != nil || len(first) != 2 {
				t.Fatalf("RunRescue(limit 2) = %d runs, %v", len(first), err)
			}
			rest, err := s.RunRescue(t.Context(), now, 2)
			if err != nil || len(rest) != 1 {
				t.Fatalf("second RunRescue = %d runs, %v", len(rest), err)
			}
			if none, err := s.RunRescue(t.Context(), now, 2); err != nil || len(none) != 0 {
				t.Fatalf("third RunRescue = %d runs, %v", len(none), err)
			}
			_, err = s.RunRescue(t.Context(), now, 0)
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}

// reclaimedRun returns a run of j (which must allow a second attempt) that
// node1 claimed at t0, lost to RunRescue an hour later, and claimed again:
// RUNNING on node1 in attempt 2, where attempt 1's worker may still speak.
func reclaimedRun(t *testing.T, s store.Store, j *connecthub.Job) *connecthub.Run {
	t.Helper()
	r := runningRun(t, s, j, node1, t0)
	rescueAt := t0.Add(time.Hour)
	rescued, err := s.RunRescue(t.Context(), rescueAt, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids(rescued), r.ID) {
		t.Fatalf("RunRescue did not rescue run %s: %v", r.ID, ids(rescued))
	}
	again := claim(t, s, store.RunClaimParams{Node: node1, Queues: []string{r.Queue}, Max: 1, Now: rescueAt})
	if len(again) != 1 || again[0].ID != r.ID || again[0].Attempt != 2 || again[0].Node != node1 {
		t.Fatalf("re-claim of run %s = %+v, want it in attempt 2 on %s", r.ID, again, node1)
	}
	return again[0]
}
