package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// importedRun returns a finished run of j as an import makes it: started
// at start, ended with status, a meta object naming where it came from.
func importedRun(j *connecthub.Job, trigger connecthub.Trigger, status connecthub.RunStatus, start time.Time, n int) store.ImportedRun {
	r := connecthub.NewRun(j, trigger, start, start, "import")
	r.Status = status
	finished := start.Add(2 * time.Second)
	r.StartedAt, r.FinishedAt = &start, &finished
	r.Message = fmt.Sprintf("record %d", n)
	if status == connecthub.StatusFailure {
		r.Error = "boom"
		r.Traceback = "Traceback (most recent call last):\n  ValueError: boom"
	}
	r.Meta = json.RawMessage(fmt.Sprintf(`{"imported_from":{"system":"python","job_logs_id":%d}}`, n))
	return store.ImportedRun{Run: r, Key: fmt.Sprintf("python:job_logs:%d", n), Log: fmt.Sprintf("line of record %d\n", n)}
}

func runImport(t *testing.T, s store.Store, runs ...store.ImportedRun) store.RunImportResult {
	t.Helper()
	res, err := s.RunImport(t.Context(), runs)
	if err != nil {
		t.Fatalf("RunImport: %v", err)
	}
	return res
}

func exerciseRunImport(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"InsertsRunsWithLogsAndMeta": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			ok := importedRun(j, connecthub.TriggerCron, connecthub.StatusSuccess, t0.Add(-2*time.Hour), 1)
			bad := importedRun(j, connecthub.TriggerManual, connecthub.StatusFailure, t0.Add(-time.Hour), 2)
			if res := runImport(t, s, ok, bad); res != (store.RunImportResult{Inserted: 2}) {
				t.Fatalf("RunImport = %+v, want 2 inserted", res)
			}
			for _, in := range []store.ImportedRun{ok, bad} {
				got := getRun(t, s, in.Run.ID)
				checkRun(t, in.Run, got)
				checkTimePtr(t, "started_at", in.Run.StartedAt, got.StartedAt)
				checkTimePtr(t, "finished_at", in.Run.FinishedAt, got.FinishedAt)
				if got.LogSize != int64(len(in.Log)) {
					t.Errorf("log_size = %d, want %d", got.LogSize, len(in.Log))
				}
				chunk, err := s.RunLogRead(t.Context(), in.Run.ID, 0)
				if err != nil || chunk.Data != in.Log || chunk.Status != in.Run.Status {
					t.Errorf("RunLogRead = %+v, %v; want the log %q and status %s", chunk, err, in.Log, in.Run.Status)
				}
			}
			// Imported runs are history: nothing is queued, nothing active.
			if n, err := s.RunActiveCount(t.Context(), "j"); err != nil || n != 0 {
				t.Errorf("RunActiveCount = %d, %v; want 0", n, err)
			}
			if runs := jobRuns(t, s, "j"); len(runs) != 2 || runs[0].ID != bad.Run.ID {
				t.Errorf("RunList = %v, want the two runs newest first", ids(runs))
			}
		},
		"AgainAddsOnlyNewRecords": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			batch := func(n int) []store.ImportedRun {
				var out []store.ImportedRun
				for i := 1; i <= n; i++ {
					out = append(out, importedRun(j, connecthub.TriggerManual, connecthub.StatusSuccess, t0.Add(time.Duration(i)*time.Minute), i))
				}
				return out
			}
			runImport(t, s, batch(3)...)
			if res := runImport(t, s, batch(3)...); res != (store.RunImportResult{Existing: 3}) {
				t.Errorf("second import = %+v, want 3 existing", res)
			}
			again := batch(4)
			if res := runImport(t, s, again...); res != (store.RunImportResult{Inserted: 1, Existing: 3}) {
				t.Errorf("third import = %+v, want 1 inserted, 3 existing", res)
			}
			if again[0].Run.ID != "" || again[3].Run.ID == "" {
				t.Errorf("ids set on existing %q / new %q; want only the new one", again[0].Run.ID, again[3].Run.ID)
			}
			if runs := jobRuns(t, s, "j"); len(runs) != 4 {
				t.Errorf("job has %d runs, want 4", len(runs))
			}
			// The key is per job: another job's record 1 is another run.
			k := newJob(t, s, "k")
			if res := runImport(t, s, importedRun(k, connecthub.TriggerManual, connecthub.StatusSuccess, t0, 1)); res.Inserted != 1 {
				t.Errorf("import for another job = %+v, want 1 inserted", res)
			}
		},
		"DemotesCronRunsOfTakenSlots": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			slot := t0.Add(-time.Hour).Truncate(time.Minute)
			insertRuns(t, s, cronRun(j, slot, t0))
			a := importedRun(j, connecthub.TriggerCron, connecthub.StatusSuccess, slot, 1)
			b := importedRun(j, connecthub.TriggerCron, connecthub.StatusSuccess, slot.Add(time.Hour), 2)
			c := importedRun(j, connecthub.TriggerCron, connecthub.StatusFailure, slot.Add(time.Hour), 3)
			if res := runImport(t, s, a, b, c); res != (store.RunImportResult{Inserted: 3, Demoted: 2}) {
				t.Fatalf("RunImport = %+v, want 3 inserted, 2 demoted", res)
			}
			for _, w := range []struct {
				id   string
				want connecthub.Trigger
			}{{a.Run.ID, connecthub.TriggerManual}, {b.Run.ID, connecthub.TriggerCron}, {c.Run.ID, connecthub.TriggerManual}} {
				if got := getRun(t, s, w.id); got.Trigger != w.want || got.Snapshot.Meta.Trigger != w.want {
					t.Errorf("run %s trigger = %s (snapshot %s), want %s", w.id, got.Trigger, got.Snapshot.Meta.Trigger, w.want)
				}
			}
			// The same record again is existing, not demoted.
			again := importedRun(j, connecthub.TriggerCron, connecthub.StatusSuccess, slot.Add(time.Hour), 2)
			if res := runImport(t, s, again); res != (store.RunImportResult{Existing: 1}) {
				t.Errorf("re-import = %+v, want 1 existing", res)
			}
		},
		"RefusesBadBatchesWhole": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			good := func() store.ImportedRun {
				return importedRun(j, connecthub.TriggerManual, connecthub.StatusSuccess, t0, 1)
			}
			for name, c := range map[string]struct {
				mutate func(*store.ImportedRun)
				kind   connecthub.Kind
			}{
				"queued":   {func(r *store.ImportedRun) { r.Run.Status = connecthub.StatusQueued }, connecthub.KindInvalid},
				"running":  {func(r *store.ImportedRun) { r.Run.Status = connecthub.StatusRunning }, connecthub.KindInvalid},
				"no key":   {func(r *store.ImportedRun) { r.Key = "" }, connecthub.KindInvalid},
				"bad meta": {func(r *store.ImportedRun) { r.Run.Meta = json.RawMessage(`[1]`) }, connecthub.KindInvalid},
				"no job":   {func(r *store.ImportedRun) { r.Run.JobID = "ghost" }, connecthub.KindNotFound},
				"twice":    {func(r *store.ImportedRun) { r.Key = "python:job_logs:0" }, connecthub.KindInvalid},
			} {
				first := good()
				first.Key = "python:job_logs:0"
				second := good()
				c.mutate(&second)
				_, err := s.RunImport(t.Context(), []store.ImportedRun{first, second})
				if !connecthub.IsKind(err, c.kind) {
					t.Errorf("%s: RunImport = %v, want kind %v", name, err, c.kind)
				}
			}
			if runs := jobRuns(t, s, "j"); len(runs) != 0 {
				t.Errorf("refused batches wrote %v", ids(runs))
			}
		},
		"LargeBatch": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			batch := make([]store.ImportedRun, 1000)
			for i := range batch {
				batch[i] = importedRun(j, connecthub.TriggerCron, connecthub.StatusSuccess, t0.Add(-time.Duration(i)*time.Minute), i)
			}
			if res := runImport(t, s, batch...); res != (store.RunImportResult{Inserted: len(batch)}) {
				t.Fatalf("RunImport = %+v, want %d inserted", res, len(batch))
			}
			st, err := s.Stats(t.Context(), t0)
			if err != nil || st.Runs[connecthub.StatusSuccess] != int64(len(batch)) {
				t.Errorf("Stats = %+v, %v; want %d SUCCESS runs", st, err, len(batch))
			}
		},
		"InsertKeepsMeta": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := manualRun(j, t0)
			r.Meta = json.RawMessage(`{"parent_run":"01ABC"}`)
			insertRuns(t, s, r)
			checkJSON(t, "meta", r.Meta, getRun(t, s, r.ID).Meta)
			plain := queuedRun(t, s, j, t0)
			if got := getRun(t, s, plain.ID).Meta; got != nil {
				t.Errorf("a run without meta reads back meta %s", got)
			}
		},
	})
}
