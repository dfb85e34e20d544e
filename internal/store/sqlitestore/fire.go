package sqlitestore

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Statements of JobsFire, prepared once and reused for every job of every
// call: a scheduler catching up fires thousands of jobs in one transaction.
const (
	fireCASSQL = `UPDATE jobs SET next_run_at = ?1, last_run_at = COALESCE(?2, last_run_at)
		WHERE id = ?3 AND enabled = 1 AND next_run_at = ?4`
	fireSlotTakenSQL = `SELECT EXISTS (SELECT 1 FROM runs
		WHERE job_id = ? AND scheduled_for = ? AND "trigger" = 'cron')`
	// INDEXED BY: without statistics SQLite prefers runs_job, which walks
	// all of a job's history instead of its few active runs.
	fireActiveSQL = `SELECT EXISTS (SELECT 1 FROM runs INDEXED BY runs_active
		WHERE job_id = ? AND status IN ('QUEUED', 'RUNNING'))`
	fireCancelQueuedSQL = `UPDATE runs SET status = 'CANCELED', finished_at = ?1, error = ?2,
		message = ?4, updated_at = ?1
		WHERE job_id = ?3 AND status = 'QUEUED'`
	fireCancelRunningSQL = `UPDATE runs SET cancel_requested = 1, updated_at = ?1
		WHERE job_id = ?2 AND status = 'RUNNING' AND cancel_requested = 0`
)

var fireQueries = []string{fireCASSQL, fireSlotTakenSQL, fireActiveSQL, fireCancelQueuedSQL, fireCancelRunningSQL, insertRunsSQL(1)}

// JobsFire implements store.JobStore. It is one write transaction; as the
// store has a single writer, the slot check and the insert cannot interleave
// with another JobsFire, and the unique index runs_cron_slot backs that up
// against any other writer of the file.
//
// The driver sets the Status (QUEUED, or SKIPPED under forbid) and the
// Trigger (cron) of the inserted runs, and their JobID if it is empty. An
// empty Concurrency means the default, forbid.
func (s *Store) JobsFire(ctx context.Context, fires []store.JobFireParams) ([]store.JobFireResult, error) {
	results, eff, err := store.Fire(fires, func(rows [][]*connecthub.Run, results []store.JobFireResult) (store.FireEffects, error) {
		return s.fire(ctx, fires, rows, results)
	})
	if err != nil {
		return nil, err
	}
	for _, t := range eff.Topics() {
		s.Publish(t)
	}
	return results, nil
}

// fire applies JobsFire's checked fires in one write transaction, with
// statements prepared once for every job of every call.
func (s *Store) fire(ctx context.Context, fires []store.JobFireParams, rows [][]*connecthub.Run, results []store.JobFireResult) (store.FireEffects, error) {
	stmts := make([]*sqlx.Stmt, len(fireQueries))
	for i, q := range fireQueries {
		st, release, err := s.stmts.prepare(ctx, q)
		if err != nil {
			return store.FireEffects{}, err
		}
		defer release()
		stmts[i] = st
	}

	var inserted, cancelRequested bool
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var (
			cas           = tx.StmtxContext(ctx, stmts[0])
			slotTaken     = tx.StmtxContext(ctx, stmts[1])
			active        = tx.StmtxContext(ctx, stmts[2])
			cancelQueued  = tx.StmtxContext(ctx, stmts[3])
			cancelRunning = tx.StmtxContext(ctx, stmts[4])
			insert        = tx.StmtxContext(ctx, stmts[5])
		)
		taken := make(map[store.FireSlot]bool)
		var counts finishCounts // SKIPPED runs, and the QUEUED runs replace canceled
		for i := range fires {
			f := &fires[i]
			ok, err := execOne(ctx, cas, nullMicros(f.NextRunAt), nullMicros(f.LastRunAt), f.JobID, micros(f.PrevNextRunAt))
			if err != nil {
				return err
			}
			if !ok {
				continue // another scheduler got there first, or the job changed
			}
			res := &results[i]
			res.Applied = true
			if len(rows[i]) == 0 {
				continue
			}
			// Read what the rules need (each fire sees the runs the
			// earlier ones wrote), decide, then write.
			clear(taken)
			for _, row := range rows[i] {
				var t bool
				if err := slotTaken.GetContext(ctx, &t, row.JobID, micros(row.ScheduledFor)); err != nil {
					return dbErr(err)
				}
				if t {
					taken[store.SlotOf(row.JobID, row.ScheduledFor)] = true
				}
			}
			var busy bool
			if f.Concurrency != connecthub.ConcurrencyAllow {
				if err := active.GetContext(ctx, &busy, f.JobID); err != nil {
					return dbErr(err)
				}
			}
			write, replace, err := store.DecideFire(f, rows[i], taken, busy, &s.ids, res)
			if err != nil {
				return err
			}
			if replace {
				now := micros(f.Now)
				canceled, err := cancelQueued.ExecContext(ctx, now, connecthub.ReasonCanceled, f.JobID, store.ReplacedMessage)
				if err != nil {
					return dbErr(err)
				}
				n, err := canceled.RowsAffected()
				if err != nil {
					return dbErr(err)
				}
				counts.add(f.JobID, connecthub.StatusCanceled, now, n)
				requested, err := cancelRunning.ExecContext(ctx, now, f.JobID)
				if err != nil {
					return dbErr(err)
				}
				if n, _ := requested.RowsAffected(); n > 0 {
					cancelRequested = true
				}
			}
			for _, row := range write {
				args, err := runInsertArgs(nil, row)
				if err != nil {
					return err
				}
				if _, err := insert.ExecContext(ctx, args...); err != nil {
					return dbErr(err)
				}
				counts.addRun(row) // a SKIPPED run is finished at once
				inserted = inserted || row.Status == connecthub.StatusQueued
			}
		}
		return counts.flush(ctx, tx, &s.stmts)
	})
	return store.FireEffects{Inserted: inserted, CancelRequested: cancelRequested}, err
}
