package sqlitestore

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// importRunSQL inserts one imported run; a run with the same import key for
// the job is left alone (no row affected). log_size is set at once: the
// log goes in as a single chunk at offset 0.
var importRunSQL = `INSERT INTO runs (` + runInsertColumns + `, import_key, log_size)
	VALUES (` + placeholders(runInsertColumnCount+2) + `)
	ON CONFLICT (job_id, import_key) WHERE import_key IS NOT NULL DO NOTHING`

// importSlotTakenSQL tells whether another record's cron run holds a slot.
// A run with the same key is the same record: its insert is skipped anyway.
const importSlotTakenSQL = `SELECT EXISTS (SELECT 1 FROM runs
	WHERE job_id = ?1 AND scheduled_for = ?2 AND "trigger" = 'cron' AND import_key IS NOT ?3)`

const importLogSQL = `INSERT INTO run_logs (run_id, off, data) VALUES (?, 0, ?)`

// RunImport implements store.RunImportStore in one write transaction. Rows
// go in one by one through prepared statements: SQLite's cost is the
// commit, not the statements, and the single writer makes the slot check
// and the insert of each run atomic.
func (s *Store) RunImport(ctx context.Context, runs []store.ImportedRun) (store.RunImportResult, error) {
	var res store.RunImportResult
	if len(runs) == 0 {
		return res, nil
	}
	rows, err := store.PrepareImport(runs, &s.ids)
	if err != nil {
		return res, err
	}
	inserted := make([]bool, len(rows))
	err = s.write(ctx, func(tx *sqlx.Tx) error {
		res = store.RunImportResult{}
		insert, err := tx.PreparexContext(ctx, importRunSQL)
		if err != nil {
			return dbErr(err)
		}
		defer insert.Close()
		taken, err := tx.PreparexContext(ctx, importSlotTakenSQL)
		if err != nil {
			return dbErr(err)
		}
		defer taken.Close()
		logs, err := tx.PreparexContext(ctx, importLogSQL)
		if err != nil {
			return dbErr(err)
		}
		defer logs.Close()
		args := make([]any, 0, runInsertColumnCount+2)
		for i, row := range rows {
			r := row.Run
			if r.Trigger == connecthub.TriggerCron {
				var busy bool
				if err := taken.GetContext(ctx, &busy, r.JobID, micros(r.ScheduledFor), row.Key); err != nil {
					return dbErr(err)
				}
				if busy {
					store.DemoteImported(r)
				}
			}
			if args, err = runInsertArgs(args[:0], r); err != nil {
				return err
			}
			args = append(args, row.Key, int64(len(row.Log)))
			out, err := insert.ExecContext(ctx, args...)
			if err != nil {
				return err
			}
			n, err := out.RowsAffected()
			if err != nil {
				return dbErr(err)
			}
			if n == 0 {
				res.Existing++
				continue
			}
			inserted[i] = true
			res.Inserted++
			if r.Trigger != runs[i].Run.Trigger {
				res.Demoted++
			}
			if row.Log != "" {
				if _, err := logs.ExecContext(ctx, r.ID, row.Log); err != nil {
					return dbErr(err)
				}
			}
		}
		return nil
	})
	switch {
	case isForeignKeyViolation(err):
		return store.RunImportResult{}, store.ImportJobMissing(rows, err)
	case isUniqueViolation(err):
		return store.RunImportResult{}, store.RunExists(err)
	case err != nil:
		return store.RunImportResult{}, dbErr(err)
	}
	for i, row := range rows {
		if inserted[i] {
			runs[i].Run.ID = row.Run.ID
		}
	}
	return res, nil
}
