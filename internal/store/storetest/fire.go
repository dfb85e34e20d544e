package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Slots of the JobsFire tests: the job is due at slot1, five minutes apart.
var (
	slot1 = t0.Truncate(time.Minute)
	slot2 = slot1.Add(5 * time.Minute)
	slot3 = slot2.Add(5 * time.Minute)
)

// dueJob creates a job whose next slot is slot1.
func dueJob(t *testing.T, s store.Store, id, concurrency string) *connecthub.Job {
	t.Helper()
	return newJob(t, s, id, func(j *connecthub.Job) {
		j.Concurrency = concurrency
		j.NextRunAt = ptr(slot1)
	})
}

// fireParams fires the given slots of j, moving next_run_at from prev to next.
func fireParams(j *connecthub.Job, prev time.Time, next *time.Time, slots ...time.Time) store.JobFireParams {
	now := slots[len(slots)-1].Add(time.Second)
	p := store.JobFireParams{
		JobID:         j.ID,
		PrevNextRunAt: prev,
		NextRunAt:     next,
		LastRunAt:     ptr(slots[len(slots)-1]),
		Concurrency:   j.Concurrency,
		Now:           now,
	}
	for _, slot := range slots {
		p.Runs = append(p.Runs, cronRun(j, slot, now))
	}
	return p
}

func fire(t *testing.T, s store.Store, fires ...store.JobFireParams) []store.JobFireResult {
	t.Helper()
	res, err := s.JobsFire(t.Context(), fires)
	if err != nil {
		t.Fatalf("JobsFire: %v", err)
	}
	if len(res) != len(fires) {
		t.Fatalf("JobsFire returned %d results for %d fires", len(res), len(fires))
	}
	return res
}

func checkFire(t *testing.T, got store.JobFireResult, applied bool, inserted, skipped, duplicates int) {
	t.Helper()
	if got.Applied != applied || got.Inserted != inserted || got.Skipped != skipped || got.Duplicates != duplicates {
		t.Fatalf("fire result = %+v, want applied=%v inserted=%d skipped=%d duplicates=%d",
			got, applied, inserted, skipped, duplicates)
	}
	if len(got.RunIDs) != inserted+skipped {
		t.Fatalf("fire result has %d run ids, want %d", len(got.RunIDs), inserted+skipped)
	}
}

func jobRuns(t *testing.T, s store.Store, jobID string) []*connecthub.Run {
	t.Helper()
	runs, _, err := s.RunList(t.Context(), store.RunListParams{JobID: jobID, Limit: 500})
	if err != nil {
		t.Fatalf("RunList(%s): %v", jobID, err)
	}
	return runs
}

func exerciseJobsFire(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"InsertsRunsAndMovesSlot": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyAllow)
			p := fireParams(j, slot1, ptr(slot2), slot1)
			res := fire(t, s, p)
			checkFire(t, res[0], true, 1, 0, 0)
			if p.Runs[0].ID != res[0].RunIDs[0] {
				t.Errorf("the fired run's id = %q, want it set to %q", p.Runs[0].ID, res[0].RunIDs[0])
			}
			r := checkStatus(t, s, res[0].RunIDs[0], connecthub.StatusQueued)
			if r.Trigger != connecthub.TriggerCron || r.JobID != "j" {
				t.Errorf("run trigger/job = %s/%s, want cron/j", r.Trigger, r.JobID)
			}
			checkTime(t, "scheduled_for", slot1, r.ScheduledFor)
			got := getJob(t, s, "j")
			checkTimePtr(t, "next_run_at", ptr(slot2), got.NextRunAt)
			checkTimePtr(t, "last_run_at", ptr(slot1), got.LastRunAt)
		},
		"SeveralSlots": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyAllow)
			res := fire(t, s, fireParams(j, slot1, ptr(slot3), slot1, slot2))
			checkFire(t, res[0], true, 2, 0, 0)
			for i, slot := range []time.Time{slot1, slot2} {
				checkTime(t, "scheduled_for", slot, getRun(t, s, res[0].RunIDs[i]).ScheduledFor)
			}
		},
		"LostCompareAndSet": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyAllow)
			res := fire(t, s, fireParams(j, slot1.Add(-5*time.Minute), ptr(slot2), slot1))
			checkFire(t, res[0], false, 0, 0, 0)
			if runs := jobRuns(t, s, "j"); len(runs) != 0 {
				t.Errorf("a lost compare-and-set inserted runs %v", ids(runs))
			}
			got := getJob(t, s, "j")
			checkTimePtr(t, "next_run_at", ptr(slot1), got.NextRunAt)
			checkTimePtr(t, "last_run_at", nil, got.LastRunAt)
		},
		"DisabledJobNotFired": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.Enabled = false; j.NextRunAt = ptr(slot1) })
			res := fire(t, s, fireParams(j, slot1, ptr(slot2), slot1))
			checkFire(t, res[0], false, 0, 0, 0)
			if runs := jobRuns(t, s, "j"); len(runs) != 0 {
				t.Errorf("a disabled job was fired: %v", ids(runs))
			}
			checkTimePtr(t, "next_run_at", ptr(slot1), getJob(t, s, "j").NextRunAt)
		},
		"MissingJobNotFired": func(t *testing.T, s store.Store) {
			j := testJob("ghost")
			res := fire(t, s, fireParams(j, slot1, ptr(slot2), slot1))
			checkFire(t, res[0], false, 0, 0, 0)
		},
		"DuplicateSlot": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyAllow)
			first := fire(t, s, fireParams(j, slot1, ptr(slot2), slot1))
			checkFire(t, first[0], true, 1, 0, 0)
			// A scheduler with a stale plan fires slot1 again, and slot2.
			res := fire(t, s, fireParams(j, slot2, ptr(slot3), slot1, slot2))
			checkFire(t, res[0], true, 1, 0, 1)
			runs := jobRuns(t, s, "j")
			if len(runs) != 2 {
				t.Fatalf("got %d runs, want one per slot", len(runs))
			}
			checkTimePtr(t, "next_run_at", ptr(slot3), getJob(t, s, "j").NextRunAt)
			// The unique key holds for RunInsert too.
			err := s.RunInsert(t.Context(), []*connecthub.Run{cronRun(j, slot1, t0)})
			requireKind(t, err, connecthub.KindConflict)
			// Runs of other triggers may share the time.
			insertRuns(t, s, connecthub.NewRun(j, connecthub.TriggerManual, slot1, t0, ""))
		},
		"ConcurrentSameSlot": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyForbid)
			const n = 4
			results := make([]store.JobFireResult, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					res, err := s.JobsFire(t.Context(), []store.JobFireParams{fireParams(j, slot1, ptr(slot2), slot1)})
					errs[i] = err
					if err == nil {
						results[i] = res[0]
					}
				})
			}
			wg.Wait()
			applied := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("JobsFire: %v", errs[i])
				}
				if results[i].Applied {
					applied++
					checkFire(t, results[i], true, 1, 0, 0)
				}
			}
			if applied != 1 {
				t.Errorf("%d concurrent fires applied, want exactly 1", applied)
			}
			if runs := jobRuns(t, s, "j"); len(runs) != 1 {
				t.Errorf("concurrent fires of one slot made %d runs, want 1", len(runs))
			}
		},
		"ForbidSkipsWhenQueued": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyForbid)
			active := queuedRun(t, s, j, t0)
			res := fire(t, s, fireParams(j, slot1, ptr(slot2), slot1))
			checkFire(t, res[0], true, 0, 1, 0)
			r := checkStatus(t, s, res[0].RunIDs[0], connecthub.StatusSkipped)
			if r.Trigger != connecthub.TriggerCron {
				t.Errorf("skipped run trigger = %s, want cron", r.Trigger)
			}
			checkTime(t, "scheduled_for", slot1, r.ScheduledFor)
			checkStatus(t, s, active.ID, connecthub.StatusQueued)
			checkTimePtr(t, "next_run_at", ptr(slot2), getJob(t, s, "j").NextRunAt)
			// The skipped run holds the slot.
			again := fire(t, s, fireParams(j, slot2, ptr(slot3), slot1))
			checkFire(t, again[0], true, 0, 0, 1)
		},
		"ForbidSkipsWhenRunning": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyForbid)
			runningRun(t, s, j, node1, t0)
			res := fire(t, s, fireParams(j, slot1, ptr(slot2), slot1))
			checkFire(t, res[0], true, 0, 1, 0)
			checkStatus(t, s, res[0].RunIDs[0], connecthub.StatusSkipped)
		},
		"ForbidInsertsWhenIdle": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyForbid)
			done := runningRun(t, s, j, node1, t0)
			complete(t, s, store.RunOutcome{ID: done.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0})
			res := fire(t, s, fireParams(j, slot1, ptr(slot3), slot1, slot2))
			// The first slot's run is active when the second is recorded.
			checkFire(t, res[0], true, 1, 1, 0)
			checkStatus(t, s, res[0].RunIDs[0], connecthub.StatusQueued)
			checkStatus(t, s, res[0].RunIDs[1], connecthub.StatusSkipped)
		},
		"EmptyConcurrencyIsForbid": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", "")
			queuedRun(t, s, j, t0)
			res := fire(t, s, fireParams(j, slot1, ptr(slot2), slot1))
			checkFire(t, res[0], true, 0, 1, 0)
		},
		"ReplaceCancelsActive": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyReplace)
			running := runningRun(t, s, j, node1, t0)
			queued := queuedRun(t, s, j, t0)
			cancel := subscribe(t, s, store.TopicCancel)
			p := fireParams(j, slot1, ptr(slot2), slot1)
			res := fire(t, s, p)
			checkFire(t, res[0], true, 1, 0, 0)
			checkStatus(t, s, res[0].RunIDs[0], connecthub.StatusQueued)
			q := checkStatus(t, s, queued.ID, connecthub.StatusCanceled)
			checkTimePtr(t, "canceled run finished_at", ptr(p.Now), q.FinishedAt)
			r := checkStatus(t, s, running.ID, connecthub.StatusRunning)
			if !r.CancelRequested {
				t.Error("the running run has no cancel request")
			}
			waitNotified(t, cancel, "JobsFire replaced a running run")
			hb, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: node1, IDs: []string{running.ID}, LeaseTTL: ttl, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "cancel requested", []string{running.ID}, hb.CancelRequested)
		},
		"AllowInsertsAlongside": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyAllow)
			active := queuedRun(t, s, j, t0)
			res := fire(t, s, fireParams(j, slot1, ptr(slot2), slot1))
			checkFire(t, res[0], true, 1, 0, 0)
			checkStatus(t, s, active.ID, connecthub.StatusQueued)
			checkStatus(t, s, res[0].RunIDs[0], connecthub.StatusQueued)
		},
		"NoFurtherSlot": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyAllow)
			p := fireParams(j, slot1, nil, slot1)
			fire(t, s, p)
			got := getJob(t, s, "j")
			checkTimePtr(t, "next_run_at", nil, got.NextRunAt)
			checkTimePtr(t, "last_run_at", ptr(slot1), got.LastRunAt)
			next, err := s.JobNextDue(t.Context())
			if err != nil || next != nil {
				t.Errorf("JobNextDue = %v, %v; want nil", next, err)
			}
		},
		"NilLastRunAtKeepsIt": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) {
				j.NextRunAt = ptr(slot2)
				j.LastRunAt = ptr(slot1)
			})
			// A skip-misfire fire: no runs, just move the slot on.
			fire(t, s, store.JobFireParams{JobID: j.ID, PrevNextRunAt: slot2, NextRunAt: ptr(slot3), Concurrency: j.Concurrency, Now: slot3})
			got := getJob(t, s, "j")
			checkTimePtr(t, "last_run_at", ptr(slot1), got.LastRunAt)
			checkTimePtr(t, "next_run_at", ptr(slot3), got.NextRunAt)
		},
		"SeveralJobs": func(t *testing.T, s store.Store) {
			a := dueJob(t, s, "a", connecthub.ConcurrencyAllow)
			b := dueJob(t, s, "b", connecthub.ConcurrencyAllow)
			c := dueJob(t, s, "c", connecthub.ConcurrencyAllow)
			runs := subscribe(t, s, store.TopicRuns)
			res := fire(t, s,
				fireParams(a, slot1, ptr(slot2), slot1),
				fireParams(b, slot2, ptr(slot3), slot2), // stale: b is due at slot1
				fireParams(c, slot1, ptr(slot2), slot1),
			)
			checkFire(t, res[0], true, 1, 0, 0)
			checkFire(t, res[1], false, 0, 0, 0)
			checkFire(t, res[2], true, 1, 0, 0)
			waitNotified(t, runs, "JobsFire inserted runs")
			checkTimePtr(t, "b next_run_at", ptr(slot1), getJob(t, s, "b").NextRunAt)
		},
		"BadInput": func(t *testing.T, s store.Store) {
			j := dueJob(t, s, "j", connecthub.ConcurrencyAllow)
			bad := fireParams(j, slot1, ptr(slot2), slot1)
			bad.Concurrency = "sometimes"
			_, err := s.JobsFire(t.Context(), []store.JobFireParams{bad})
			requireKind(t, err, connecthub.KindInvalid)
			other := fireParams(j, slot1, ptr(slot2), slot1)
			other.Runs[0].JobID = "someone-else"
			_, err = s.JobsFire(t.Context(), []store.JobFireParams{other})
			requireKind(t, err, connecthub.KindInvalid)
			checkTimePtr(t, "next_run_at", ptr(slot1), getJob(t, s, "j").NextRunAt)
		},
	})
}
