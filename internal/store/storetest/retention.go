package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// finishedRuns imports n finished runs of j, the i-th created at
// start+i*step and finished two seconds later, in status order
// SUCCESS, FAILURE, CANCELED, SKIPPED, and returns their ids oldest first.
func finishedRuns(t *testing.T, s store.Store, j *connecthub.Job, start time.Time, step time.Duration, n int) []string {
	t.Helper()
	statuses := []connecthub.RunStatus{connecthub.StatusSuccess, connecthub.StatusFailure, connecthub.StatusCanceled, connecthub.StatusSkipped}
	in := make([]store.ImportedRun, n)
	for i := range n {
		in[i] = importedRun(j, connecthub.TriggerManual, statuses[i%len(statuses)], start.Add(time.Duration(i)*step), i)
	}
	runImport(t, s, in...)
	out := make([]string, n)
	for i, r := range in {
		out[i] = r.Run.ID
	}
	return out
}

// prune runs RunPrune until it deletes less than a batch, and returns the
// total and the number of calls.
func prune(t *testing.T, s store.Store, p store.RunPruneParams) (int64, int) {
	t.Helper()
	var total int64
	for calls := 1; ; calls++ {
		res, err := s.RunPrune(t.Context(), p)
		if err != nil {
			t.Fatalf("RunPrune(%+v): %v", p, err)
		}
		if res.Busy {
			t.Fatalf("RunPrune(%+v) was busy with no other pass running", p)
		}
		total += res.Deleted
		if res.Deleted < int64(p.Limit) {
			return total, calls
		}
	}
}

// runIDsOf returns the ids of the job's runs, oldest first.
func runIDsOf(t *testing.T, s store.Store, job string) []string {
	t.Helper()
	out := ids(jobRuns(t, s, job))
	slices.Sort(out)
	return out
}

// exerciseRetention checks RetentionStore: what RunPrune keeps and deletes,
// that it never deletes an active run, keeps the maintained counts exact
// and works in batches; and RunDeleteFinishedIDs' per-run results.
func exerciseRetention(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"KeepRuns": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			other := newJob(t, s, "other")
			old := finishedRuns(t, s, j, t0.Add(-10*time.Hour), time.Minute, 6)
			otherRuns := finishedRuns(t, s, other, t0.Add(-10*time.Hour), time.Minute, 2)
			queued := queuedRun(t, s, j, t0.Add(-20*time.Hour)) // oldest of all, but active
			running := runningRun(t, s, j, node1, t0.Add(-20*time.Hour))
			n, _ := prune(t, s, store.RunPruneParams{JobID: "j", KeepRuns: 3, Limit: store.RetentionBatch})
			if n != 3 {
				t.Fatalf("deleted %d runs, want 3", n)
			}
			want := append(slices.Clone(old[3:]), queued.ID, running.ID)
			slices.Sort(want)
			checkStrings(t, "runs left", want, runIDsOf(t, s, "j"))
			checkStrings(t, "other job's runs", otherRuns, runIDsOf(t, s, "other"))
			checkCounts(t, s, t0, "after the prune")
			if n, _ := prune(t, s, store.RunPruneParams{JobID: "j", KeepRuns: 3, Limit: store.RetentionBatch}); n != 0 {
				t.Errorf("a second prune deleted %d runs, want 0", n)
			}
			// Fewer finished runs than the limit: nothing goes.
			if n, _ := prune(t, s, store.RunPruneParams{JobID: "other", KeepRuns: 3, Limit: store.RetentionBatch}); n != 0 {
				t.Errorf("pruning a job under its limit deleted %d runs", n)
			}
		},
		"KeepFor": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			// Runs created 5h, 4h, 3h, 2h and 1h before t0, each finished
			// 2 s later: with the cut-off 1 s after the fourth's creation,
			// it finished after the cut-off and stays; the first three go.
			runs := finishedRuns(t, s, j, t0.Add(-5*time.Hour), time.Hour, 5)
			queued := queuedRun(t, s, j, t0.Add(-48*time.Hour))
			before := t0.Add(-2*time.Hour + time.Second)
			n, _ := prune(t, s, store.RunPruneParams{JobID: "j", Before: before, Limit: store.RetentionBatch})
			if n != 3 {
				t.Fatalf("deleted %d runs, want 3", n)
			}
			want := append(slices.Clone(runs[3:]), queued.ID)
			slices.Sort(want)
			checkStrings(t, "runs left", want, runIDsOf(t, s, "j"))
			checkCounts(t, s, t0, "after the prune")
		},
		"Both": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			runs := finishedRuns(t, s, j, t0.Add(-10*time.Hour), time.Hour, 10)
			// Keep 5 by count, but the age limit takes the oldest 7.
			n, _ := prune(t, s, store.RunPruneParams{JobID: "j", KeepRuns: 5, Before: t0.Add(-3 * time.Hour), Limit: store.RetentionBatch})
			if n != 7 {
				t.Fatalf("deleted %d runs, want 7", n)
			}
			checkStrings(t, "runs left", runs[7:], runIDsOf(t, s, "j"))
		},
		"Batches": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			runs := finishedRuns(t, s, j, t0.Add(-10*time.Hour), time.Second, 25)
			res, err := s.RunPrune(t.Context(), store.RunPruneParams{JobID: "j", KeepRuns: 2, Limit: 10})
			if err != nil || res.Deleted != 10 {
				t.Fatalf("first batch = %+v, %v; want 10 deleted", res, err)
			}
			checkStrings(t, "after one batch (the oldest go first)", runs[10:], runIDsOf(t, s, "j"))
			n, calls := prune(t, s, store.RunPruneParams{JobID: "j", KeepRuns: 2, Limit: 10})
			if n != 13 || calls != 2 {
				t.Fatalf("the rest took %d calls deleting %d; want 2 calls, 13 runs", calls, n)
			}
			checkStrings(t, "runs left", runs[23:], runIDsOf(t, s, "j"))
			checkCounts(t, s, t0, "after the batches")
		},
		"Concurrent": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			finishedRuns(t, s, j, t0.Add(-10*time.Hour), time.Second, 60)
			// Passes at once delete each run once: the counts stay exact
			// whether a pass found the other busy or not.
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for {
						res, err := s.RunPrune(t.Context(), store.RunPruneParams{JobID: "j", KeepRuns: 5, Limit: 7})
						if err != nil {
							t.Errorf("RunPrune: %v", err)
							return
						}
						if !res.Busy && res.Deleted < 7 {
							return
						}
					}
				})
			}
			wg.Wait()
			if left := runIDsOf(t, s, "j"); len(left) != 5 {
				t.Errorf("%d runs left, want 5", len(left))
			}
			checkCounts(t, s, t0, "after concurrent passes")
		},
		"DeleteIDs": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			done := finishedRuns(t, s, j, t0.Add(-time.Hour), time.Minute, 3)
			queued := queuedRun(t, s, j, t0)
			running := runningRun(t, s, j, node1, t0)
			got, err := s.RunDeleteFinishedIDs(t.Context(), []string{done[2], queued.ID, "ghost", running.ID, done[0], done[0]})
			if err != nil {
				t.Fatalf("RunDeleteFinishedIDs: %v", err)
			}
			checkStrings(t, "deleted", []string{done[2], done[0]}, got)
			want := []string{done[1], queued.ID, running.ID}
			slices.Sort(want)
			checkStrings(t, "runs left", want, runIDsOf(t, s, "j"))
			checkCounts(t, s, t0, "after the delete")
			if got, err := s.RunDeleteFinishedIDs(t.Context(), nil); err != nil || len(got) != 0 {
				t.Errorf("deleting no ids = %v, %v", got, err)
			}
		},
		"Invalid": func(t *testing.T, s store.Store) {
			for _, p := range []store.RunPruneParams{
				{KeepRuns: 1, Limit: 1},
				{JobID: "j", Limit: 1},
				{JobID: "j", KeepRuns: -1, Limit: 1},
				{JobID: "j", KeepRuns: 1},
				{JobID: "j", KeepRuns: 1, Limit: store.RetentionBatch + 1},
			} {
				_, err := s.RunPrune(t.Context(), p)
				requireKind(t, err, connecthub.KindInvalid)
			}
			_, err := s.RunDeleteFinishedIDs(t.Context(), []string{""})
			requireKind(t, err, connecthub.KindInvalid)
			_, err = s.RunDeleteFinishedIDs(t.Context(), make([]string, store.MaxBulkBatch+1))
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}
