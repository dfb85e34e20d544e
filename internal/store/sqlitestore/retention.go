package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"math"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub/internal/store"
)

// Retention walks a job's runs through runs_job (job_id, id), in id order,
// so a pass reads the oldest runs first and stops after a batch, and the
// count limit's boundary is the keep_runs-th newest finished run, found
// by walking from the newest. INDEXED BY keeps SQLite from choosing
// runs_job_finished, whose per-status ranges would need a sort.
const (
	pruneBoundarySQL = `SELECT id FROM runs INDEXED BY runs_job
		WHERE job_id = ? AND ` + finishedCondition + ` ORDER BY id DESC LIMIT 1 OFFSET ?`
	// pruneSQL deletes a batch: finished runs below the boundary (?2, ""
	// for none: no id is below it) or finished before ?3.
	pruneSQL = `DELETE FROM runs WHERE id IN (
		SELECT id FROM runs INDEXED BY runs_job
		WHERE job_id = ?1 AND ` + finishedCondition + `
			AND (id < ?2 OR COALESCE(finished_at, created_at) < ?3)
		ORDER BY id LIMIT ?4)`
)

// RunPrune implements store.RetentionStore. SQLite has one writer, so a
// pass is one replica at a time by construction and never Busy.
func (s *Store) RunPrune(ctx context.Context, p store.RunPruneParams) (store.RunPruneResult, error) {
	if err := store.CheckRunPrune(p); err != nil {
		return store.RunPruneResult{}, err
	}
	before := int64(math.MinInt64)
	if !p.Before.IsZero() {
		before = micros(p.Before)
	}
	var res store.RunPruneResult
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		boundary := ""
		if p.KeepRuns > 0 {
			err := tx.GetContext(ctx, &boundary, pruneBoundarySQL, p.JobID, p.KeepRuns-1)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return dbErr(err)
			}
		}
		r, err := tx.ExecContext(ctx, pruneSQL, p.JobID, boundary, before, p.Limit)
		if err != nil {
			return dbErr(err)
		}
		res.Deleted, err = r.RowsAffected()
		return dbErr(err)
	})
	return res, err
}

// RunDeleteFinishedIDs implements store.RetentionStore.
func (s *Store) RunDeleteFinishedIDs(ctx context.Context, ids []string) ([]string, error) {
	if err := store.CheckRunIDs(ids); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return []string{}, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	gone := map[string]bool{}
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM runs WHERE id IN (`+placeholders(len(ids))+`) AND `+
			finishedCondition+` RETURNING id`, args...)
		if err != nil {
			return dbErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return dbErr(err)
			}
			gone[id] = true
		}
		return dbErr(rows.Err())
	})
	if err != nil {
		return nil, err
	}
	return store.InOrder(ids, gone), nil
}
