package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub/internal/store"
)

// retentionLockSQL makes retention passes one replica at a time per schema
// (the key mixes in the schema, like the stats fold's): a batch that finds
// another replica's in progress skips rather than waits, and the lock ends
// with the batch's transaction, so a replica that dies holds nothing.
const retentionLockSQL = `SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.run_retention'))`

// Retention reads a job's finished runs through the partial index
// runs_job_finished (job_id, status, id): the boundary of the count limit
// is the keep_runs-th newest of them, and a batch the oldest that the
// limits select. FOR UPDATE SKIP LOCKED leaves a run that a writer holds
// (a retry reading it, say) to the next pass instead of waiting for it.
const (
	pruneBoundarySQL = `SELECT id FROM runs
		WHERE job_id = $1 AND status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
		ORDER BY id DESC LIMIT 1 OFFSET $2`
	pruneSQL = `DELETE FROM runs WHERE id IN (
		SELECT id FROM runs
		WHERE job_id = $1 AND status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
			AND (id < $2 OR ($3::timestamptz IS NOT NULL AND COALESCE(finished_at, created_at) < $3))
		ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)`
)

// RunPrune implements store.RetentionStore, in one transaction under the
// retention lock.
func (s *Store) RunPrune(ctx context.Context, p store.RunPruneParams) (store.RunPruneResult, error) {
	if err := store.CheckRunPrune(p); err != nil {
		return store.RunPruneResult{}, err
	}
	var res store.RunPruneResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, retentionLockSQL).Scan(&locked); err != nil {
			return dbErr(err)
		}
		if !locked {
			res.Busy = true
			return nil
		}
		boundary := ""
		if p.KeepRuns > 0 {
			err := tx.QueryRow(ctx, pruneBoundarySQL, p.JobID, p.KeepRuns-1).Scan(&boundary)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return dbErr(err)
			}
		}
		var before any
		if !p.Before.IsZero() {
			before = utc(p.Before)
		}
		tag, err := tx.Exec(ctx, pruneSQL, p.JobID, boundary, before, p.Limit)
		if err != nil {
			return dbErr(err)
		}
		res.Deleted = tag.RowsAffected()
		return nil
	})
	return res, err
}

// RunDeleteFinishedIDs implements store.RetentionStore, in one statement
// (and the audit entry, when the caller gave one).
func (s *Store) RunDeleteFinishedIDs(ctx context.Context, ids []string) ([]string, error) {
	if err := store.CheckRunIDs(ids); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return []string{}, nil
	}
	gone := map[string]bool{}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM runs WHERE id = ANY($1)
			AND status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED') RETURNING id`, ids)
		if err != nil {
			return dbErr(err)
		}
		var id string
		_, err = pgx.ForEachRow(rows, []any{&id}, func() error { gone[id] = true; return nil })
		return dbErr(err)
	})
	if err != nil {
		return nil, err
	}
	return store.InOrder(ids, gone), nil
}
