package sqlitestore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// importChunk is the most rows of one multi-row insert of RunImport (a
// power of two, see chunkSizes): 29 columns a row keep it far under
// SQLite's bound-parameter limit.
const importChunk = 64

// importLogSQL stores an imported run's log as one chunk.
const importLogSQL = `INSERT INTO run_logs (run_id, off, data) VALUES (?, 0, ?)`

// importRunsSQL inserts n imported runs; a run with the same import key
// for the job is left alone, and RETURNING names the ones inserted.
// log_size is set at once: the log goes in as one chunk at offset 0.
func importRunsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO runs (` + runInsertColumns + `, import_key, log_size) VALUES `)
	row := "(" + placeholders(runInsertColumnCount+2) + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(` ON CONFLICT (job_id, import_key) WHERE import_key IS NOT NULL DO NOTHING RETURNING id`)
	return b.String()
}

// importSlotsSQL lists a job's cron runs in a range of slots, with the
// record each was imported from (NULL for ConnectHub's own).
const importSlotsSQL = `SELECT scheduled_for, import_key FROM runs
	WHERE job_id = ? AND "trigger" = 'cron' AND scheduled_for BETWEEN ? AND ?`

// RunImport implements store.RunImportStore in one write transaction: a
// query per job for the cron slots the batch touches, then multi-row
// inserts of the runs and of their logs. The single writer makes the
// slot check and the inserts atomic.
func (s *Store) RunImport(ctx context.Context, runs []store.ImportedRun) (store.RunImportResult, error) {
	rows, err := store.PrepareImport(runs, &s.ids)
	if err != nil || len(rows) == 0 {
		return store.RunImportResult{}, err
	}
	// Statements are prepared before the write transaction (see
	// stmtCache): one per chunk size, powers of two up to importChunk.
	stmts := map[int]*sqlx.Stmt{}
	var releases []func()
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	sizes := chunkSizes(len(rows), importChunk)
	for _, n := range sizes {
		if stmts[n] != nil {
			continue
		}
		st, rel, err := s.stmts.prepare(ctx, importRunsSQL(n))
		if err != nil {
			return store.RunImportResult{}, err
		}
		stmts[n], releases = st, append(releases, rel)
	}
	logStmt, rel, err := s.stmts.prepare(ctx, importLogSQL)
	if err != nil {
		return store.RunImportResult{}, err
	}
	releases = append(releases, rel)
	inserted := make(map[string]bool, len(rows))
	err = s.write(ctx, func(tx *sqlx.Tx) error {
		if err := demoteTakenSlots(ctx, tx, rows); err != nil {
			return err
		}
		logs := tx.StmtxContext(ctx, logStmt)
		// The imported runs are finished: they count in the maintained
		// counts, in this transaction (only those inserted, not skipped).
		var counts finishCounts
		args := make([]any, 0, (runInsertColumnCount+2)*importChunk)
		rest := rows
		for _, n := range sizes {
			chunk := rest[:n]
			rest = rest[n:]
			args = args[:0]
			for _, row := range chunk {
				if args, err = runInsertArgs(args, row.Run); err != nil {
					return err
				}
				args = append(args, row.Key, int64(len(row.Log)))
			}
			ids, err := queryStrings(ctx, tx.StmtxContext(ctx, stmts[n]), args...)
			if err != nil {
				return err
			}
			for _, id := range ids {
				inserted[id] = true
			}
			for _, row := range chunk {
				if !inserted[row.Run.ID] {
					continue
				}
				counts.addRun(row.Run)
				if row.Log != "" {
					if _, err := logs.ExecContext(ctx, row.Run.ID, row.Log); err != nil {
						return err
					}
				}
			}
		}
		return counts.flush(ctx, tx, &s.stmts)
	})
	switch {
	case isForeignKeyViolation(err):
		return store.RunImportResult{}, store.ImportJobMissing(rows, err)
	case isUniqueViolation(err):
		return store.RunImportResult{}, store.RunExists(err)
	case err != nil:
		return store.RunImportResult{}, dbErr(err)
	}
	return store.ImportOutcome(runs, rows, inserted), nil
}

// demoteTakenSlots demotes the batch's cron runs whose slot has a cron run
// of another record (a run with the same key is the same record, whose
// insert is skipped anyway).
func demoteTakenSlots(ctx context.Context, tx *sqlx.Tx, rows []store.ImportedRun) error {
	type span struct{ lo, hi time.Time }
	spans := map[string]*span{}
	for _, row := range rows {
		r := row.Run
		if r.Trigger != connecthub.TriggerCron {
			continue
		}
		if sp := spans[r.JobID]; sp == nil {
			spans[r.JobID] = &span{r.ScheduledFor, r.ScheduledFor}
		} else {
			sp.lo, sp.hi = minTime(sp.lo, r.ScheduledFor), maxTime(sp.hi, r.ScheduledFor)
		}
	}
	taken := map[string]map[int64]string{}
	for job, sp := range spans {
		q, err := tx.QueryContext(ctx, importSlotsSQL, job, micros(sp.lo), micros(sp.hi))
		if err != nil {
			return err
		}
		slots := map[int64]string{}
		for q.Next() {
			var at int64
			var key sql.NullString
			if err := q.Scan(&at, &key); err != nil {
				q.Close()
				return err
			}
			slots[at] = key.String
		}
		if err := q.Close(); err != nil {
			return err
		}
		taken[job] = slots
	}
	for _, row := range rows {
		r := row.Run
		if r.Trigger != connecthub.TriggerCron {
			continue
		}
		if key, ok := taken[r.JobID][micros(r.ScheduledFor)]; ok && key != row.Key {
			store.DemoteImported(r)
		}
	}
	return nil
}

// queryStrings runs a statement that returns one text column.
func queryStrings(ctx context.Context, st *sqlx.Stmt, args ...any) ([]string, error) {
	rs, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rs.Err()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
