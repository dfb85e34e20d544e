package store

import (
	"bytes"
	"context"
	"time"

	"github.com/connecthub/connecthub"
)

// RunImportStore records runs imported from another system: the history
// of the Python ConnectHub's job_logs table, which `connecthub import
// python --history` brings over.
type RunImportStore interface {
	// RunImport inserts finished runs with their logs, all in one
	// transaction: all or none. Every run has an import key; a run whose
	// job already has a run with that key is left alone and counted as
	// Existing, so importing the same records again adds only the new
	// ones. A cron run whose slot already has another cron run is stored
	// with trigger manual (counted as Demoted), as is the later of two in
	// one batch: the slot's run stays the one the scheduler relies on.
	//
	// Runs must be terminal (an imported run never executes), and each
	// key appears once per job in a batch; anything else is KindInvalid
	// and nothing is written. Logs are stored as given, the caller having
	// masked and capped them as every run log is. The runs' ids are set
	// on the inserted ones; Existing ones keep the id they were given
	// (normally empty).
	RunImport(ctx context.Context, runs []ImportedRun) (RunImportResult, error)
}

// ImportedRun is one run RunImport inserts.
type ImportedRun struct {
	Run *connecthub.Run
	// Key names the record the run was made from, unique per job
	// ("python:job_logs:123").
	Key string
	// Log is the run's log, "" for none.
	Log string
}

// RunImportResult counts what RunImport did.
type RunImportResult struct {
	// Inserted runs are new; Existing ones had been imported before.
	Inserted, Existing int
	// Demoted counts the inserted cron runs stored as manual because their
	// slot had a run.
	Demoted int
}

// PrepareImport checks a RunImport batch and returns its rows: each run
// through PrepareRun with an id from ids when it has none, terminal, with
// a key, a meta that is a JSON object when set, and no key twice for one
// job. The later of two cron runs of the batch for one slot is demoted
// (see DemoteImported). The runs given are not changed.
func PrepareImport(runs []ImportedRun, ids *IDGen) ([]ImportedRun, error) {
	rows := make([]ImportedRun, len(runs))
	type slot struct {
		job string
		at  time.Time
	}
	keys := make(map[[2]string]bool, len(runs))
	slots := make(map[slot]bool)
	for i, in := range runs {
		c, err := PrepareRun(in.Run)
		if err != nil {
			return nil, err
		}
		switch {
		case !c.Status.Terminal():
			return nil, connecthub.FieldError("status", "", "an imported run must be finished, not %s", c.Status)
		case in.Key == "":
			return nil, connecthub.FieldError("import_key", "", "an imported run needs an import key")
		case HasJSON(c.Meta) && !connecthub.IsJSONObject(c.Meta):
			return nil, connecthub.FieldError("meta", "", "meta must be a JSON object")
		case keys[[2]string{c.JobID, in.Key}]:
			return nil, connecthub.FieldError("import_key", "", "import key %q appears twice for job %q", in.Key, c.JobID)
		}
		keys[[2]string{c.JobID, in.Key}] = true
		if c.ID == "" {
			if c.ID, err = ids.Next(c.CreatedAt); err != nil {
				return nil, err
			}
		}
		if c.Trigger == connecthub.TriggerCron {
			s := slot{c.JobID, UTCMicro(c.ScheduledFor)}
			if slots[s] {
				DemoteImported(c)
			}
			slots[s] = true
		}
		if !HasJSON(c.Meta) {
			c.Meta = nil
		} else {
			c.Meta = bytes.TrimSpace(c.Meta)
		}
		rows[i] = ImportedRun{Run: c, Key: in.Key, Log: in.Log}
	}
	return rows, nil
}

// DemoteImported makes an imported cron run a manual one: its slot has a
// run already, and a slot has one cron run, the one the scheduler counts.
func DemoteImported(r *connecthub.Run) {
	r.Trigger = connecthub.TriggerManual
	r.Snapshot.Meta.Trigger = connecthub.TriggerManual
}

// ImportJobMissing is RunImport's error when the database refused the
// batch because a run's job does not exist.
func ImportJobMissing(rows []ImportedRun, err error) error {
	runs := make([]*connecthub.Run, len(rows))
	for i, r := range rows {
		runs[i] = r.Run
	}
	return RunJobMissing(runs, err)
}

// ImportOutcome is RunImport's result once the driver knows which rows
// (by id) it inserted: the runs given get the ids of those, and the
// counts say what happened to each.
func ImportOutcome(runs, rows []ImportedRun, inserted map[string]bool) RunImportResult {
	var res RunImportResult
	for i, row := range rows {
		if !inserted[row.Run.ID] {
			res.Existing++
			continue
		}
		res.Inserted++
		runs[i].Run.ID = row.Run.ID
		if row.Run.Trigger != runs[i].Run.Trigger {
			res.Demoted++
		}
	}
	return res
}
