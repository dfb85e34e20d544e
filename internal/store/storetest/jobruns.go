package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// jobOfEveryStatus gives job j runs in every status, the statuses
// interleaved in id order (each status appears twice, apart), and returns
// them oldest first. Another job's runs sit between them.
func jobOfEveryStatus(t *testing.T, s store.Store, j, other *connecthub.Job) []*connecthub.Run {
	t.Helper()
	var runs []*connecthub.Run
	for round := range 2 {
		at := t0.Add(time.Duration(round) * time.Hour)
		queuedRun(t, s, other, at)
		runs = append(runs, endRun(t, s, j, connecthub.StatusSuccess, at.Add(time.Minute)))
		runs = append(runs, endRun(t, s, j, connecthub.StatusFailure, at.Add(2*time.Minute)))
		canceled := queuedRun(t, s, j, at.Add(3*time.Minute))
		if _, err := s.RunCancel(t.Context(), canceled.ID, at.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, canceled)
		skipped := connecthub.NewRun(j, connecthub.TriggerManual, at.Add(4*time.Minute), at.Add(4*time.Minute), "")
		skipped.Status = connecthub.StatusSkipped
		skipped.FinishedAt = ptr(at.Add(4 * time.Minute))
		runs = append(runs, insertRuns(t, s, skipped)[0])
		runs = append(runs, runningRun(t, s, j, node1, at.Add(5*time.Minute)))
		runs = append(runs, insertRuns(t, s, connecthub.NewRun(j, connecthub.TriggerCron, at.Add(6*time.Minute), at.Add(6*time.Minute), ""))[0])
	}
	for i, r := range runs {
		runs[i] = getRun(t, s, r.ID)
	}
	return runs
}

// newestFirstIDs is the ids of runs, newest first, of the statuses in keep
// (all when keep is empty).
func newestFirstIDs(runs []*connecthub.Run, keep ...connecthub.RunStatus) []string {
	var out []string
	for _, r := range runs {
		if len(keep) == 0 || slices.Contains(keep, r.Status) {
			out = append(out, r.ID)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// exerciseJobRuns checks what a driver may do without one index of all of
// a job's runs (PostgreSQL since schema version 26): a job's run list in
// id order across every status, page by page; a job deletion that takes
// the runs of every status and their logs; and run inserts that race a
// job deletion, which must leave no run without its job.
func exerciseJobRuns(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"ListEveryStatusPaged": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "mixed")
			other := newJob(t, s, "other")
			runs := jobOfEveryStatus(t, s, j, other)
			for _, tc := range []struct {
				name   string
				status []connecthub.RunStatus
			}{
				{"every status", nil},
				{"one status", []connecthub.RunStatus{connecthub.StatusFailure}},
				{"two statuses, one repeated", []connecthub.RunStatus{connecthub.StatusQueued, connecthub.StatusSkipped, connecthub.StatusQueued}},
				{"active", []connecthub.RunStatus{connecthub.StatusRunning, connecthub.StatusQueued}},
			} {
				want := newestFirstIDs(runs, tc.status...)
				for _, limit := range []int{1, 2, 5, 100} {
					var got []string
					cursor := ""
					for page := 0; ; page++ {
						if page > len(runs) {
							t.Fatalf("%s, limit %d: the pages never end", tc.name, limit)
						}
						l, next, err := s.RunList(t.Context(), store.RunListParams{JobID: "mixed", Status: tc.status, Limit: limit, Cursor: cursor})
						if err != nil {
							t.Fatalf("%s, limit %d: %v", tc.name, limit, err)
						}
						if len(l) > limit {
							t.Fatalf("%s, limit %d: a page of %d", tc.name, limit, len(l))
						}
						got = append(got, ids(l)...)
						if next == "" {
							break
						}
						cursor = next
					}
					checkStrings(t, tc.name, want, got)
				}
			}
			// The other filters apply to every status's walk.
			cron, _, err := s.RunList(t.Context(), store.RunListParams{JobID: "mixed", Trigger: connecthub.TriggerCron})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "cron runs", []string{runs[11].ID, runs[5].ID}, ids(cron))
			since, _, err := s.RunList(t.Context(), store.RunListParams{JobID: "mixed", Since: ptr(t0.Add(time.Hour))})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "second round", newestFirstIDs(runs[6:]), ids(since))
		},
		"DeleteTakesEveryStatus": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "doomed")
			other := newJob(t, s, "other")
			runs := jobOfEveryStatus(t, s, j, other)
			for _, r := range runs {
				if r.Status == connecthub.StatusRunning {
					if err := s.RunLogAppend(t.Context(), r.ID, "line\n"); err != nil {
						t.Fatalf("RunLogAppend(%s): %v", r.ID, err)
					}
				}
			}
			before, _, err := s.RunList(t.Context(), store.RunListParams{JobID: "other"})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.JobDelete(t.Context(), "doomed"); err != nil {
				t.Fatal(err)
			}
			for _, r := range runs {
				if _, err := s.RunGet(t.Context(), r.ID); !connecthub.IsKind(err, connecthub.KindNotFound) {
					t.Errorf("RunGet(%s, %s) after JobDelete = %v, want not found", r.ID, r.Status, err)
				}
				if _, err := s.RunLogRead(t.Context(), r.ID, 0); !connecthub.IsKind(err, connecthub.KindNotFound) {
					t.Errorf("RunLogRead(%s) after JobDelete = %v, want not found", r.ID, err)
				}
			}
			all, _, err := s.RunList(t.Context(), store.RunListParams{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "runs left", ids(before), ids(all))
		},
		"InsertRacesDelete": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "contested")
			queuedRun(t, s, j, t0)
			const writers = 4
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				inserted []string
				lastErr  = make([]error, writers)
				started  = make(chan struct{})
				once     sync.Once
			)
			for w := range writers {
				wg.Go(func() {
					for range 10000 {
						batch := []*connecthub.Run{manualRun(j, t0), manualRun(j, t0)}
						if err := s.RunInsert(t.Context(), batch); err != nil {
							lastErr[w] = err
							return
						}
						mu.Lock()
						inserted = append(inserted, batch[0].ID, batch[1].ID)
						mu.Unlock()
						once.Do(func() { close(started) })
					}
				})
			}
			<-started // the deletion meets inserts in flight
			if err := s.JobDelete(t.Context(), "contested"); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			for _, err := range lastErr {
				requireKind(t, err, connecthub.KindNotFound)
			}
			for _, id := range inserted {
				if _, err := s.RunGet(t.Context(), id); !connecthub.IsKind(err, connecthub.KindNotFound) {
					t.Fatalf("run %s of the deleted job survived its deletion: %v", id, err)
				}
			}
			if left, _, err := s.RunList(t.Context(), store.RunListParams{Limit: 10}); err != nil || len(left) != 0 {
				t.Fatalf("runs left after the job's deletion: %v, %v", ids(left), err)
			}
		},
	})
}
