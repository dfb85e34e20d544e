package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// recordJobRevision records, in tx, the revision of a change of a job (op
// is RevisionCreate with before nil, RevisionUpdate, or RevisionDelete
// with after nil), as store.JobRevision decides it: nothing for an update
// that changed nothing, and first a baseline for a job that has no
// revision yet. Every write of a job calls it in its own transaction,
// after the job's row was written (and so locked).
func recordJobRevision(ctx context.Context, tx pgx.Tx, op string, before, after *connecthub.Job) error {
	return store.RecordJobRevision(ctx, op, before, after, func(jobID string) (bool, error) {
		var last int
		err := tx.QueryRow(ctx, `SELECT last_revision FROM job_revision_heads WHERE job_id = $1`, jobID).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil, dbErr(err)
	}, func(rev *connecthub.Revision) error { return insertRevision(ctx, tx, rev) })
}

// insertRevision writes rev in tx with store.WriteRevision. The upsert of
// the head row takes the number and holds that row locked until tx ends.
func insertRevision(ctx context.Context, tx pgx.Tx, rev *connecthub.Revision) error {
	return store.WriteRevision(rev, func(jobID string) (n int, err error) {
		err = tx.QueryRow(ctx, `INSERT INTO job_revision_heads AS h (job_id, last_revision) VALUES ($1, 1)
			ON CONFLICT (job_id) DO UPDATE SET last_revision = h.last_revision + 1 RETURNING last_revision`, jobID).Scan(&n)
		return n, dbErr(err)
	}, func(rev *connecthub.Revision, row store.RevisionRow) error {
		_, err := tx.Exec(ctx, `INSERT INTO job_revisions (id, `+store.RevisionColumns+`, secret_cfg)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, row.Key, rev.JobID, rev.Revision, rev.Action,
			rev.Actor, rev.ActorKind, rev.Source, rev.At, string(rev.Definition), row.Keys, row.Print, rev.SecretCfg)
		return dbErr(err)
	})
}

// scanRevision reads the store.RevisionColumns of a row, and secret_cfg after
// them when withSecret.
func scanRevision(row pgx.Row, withSecret bool) (*connecthub.Revision, error) {
	return store.ScanRevision(row, withSecret, utc)
}

// RevisionList implements store.RevisionStore.
func (s *Store) RevisionList(ctx context.Context, f connecthub.RevisionFilter) ([]*connecthub.Revision, string, error) {
	limit, below, err := store.CheckRevisionFilter(f)
	if err != nil {
		return nil, "", err
	}
	revs, err := s.queryRevisions(ctx, `SELECT `+store.RevisionColumns+` FROM job_revisions
		WHERE job_id = $1 AND ($2 = 0 OR revision < $2) ORDER BY revision DESC LIMIT $3`, cleanText(f.JobID), below, limit+1)
	if err != nil {
		return nil, "", err
	}
	revs, next := store.Page(revs, limit, store.RevisionCursor)
	return revs, next, nil
}

func (s *Store) queryRevisions(ctx context.Context, q string, args ...any) ([]*connecthub.Revision, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	return queryList(ctx, db, scanListedRevision, q, args...)
}

// scanListedRevision reads a revision without its secret_cfg.
func scanListedRevision(row pgx.Row) (*connecthub.Revision, error) { return scanRevision(row, false) }

// RevisionGet implements store.RevisionStore.
func (s *Store) RevisionGet(ctx context.Context, jobID string, revision int) (*connecthub.Revision, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	r, err := scanRevision(db.QueryRow(ctx, `SELECT `+store.RevisionColumns+`, secret_cfg FROM job_revisions
		WHERE job_id = $1 AND revision = $2`, cleanText(jobID), revision), true)
	if err != nil {
		return nil, notFound(err, "revision", store.RevisionKey(jobID, revision))
	}
	return r, nil
}

// RevisionDeletedJobs implements store.RevisionStore: the heads of job ids
// that have no job row, each joined to its last revision.
func (s *Store) RevisionDeletedJobs(ctx context.Context, p store.DeletedJobsParams) ([]*connecthub.DeletedJob, string, error) {
	return store.ListDeletedJobs(p, func(cursor string, n int) ([]*connecthub.Revision, error) {
		return s.queryRevisions(ctx, `SELECT r.job_id, r.revision, r.action, r.actor, r.actor_kind, r.source, r.at,
				r.definition, r.secret_keys, r.secret_fingerprint
			FROM job_revision_heads h JOIN job_revisions r ON r.job_id = h.job_id AND r.revision = h.last_revision
			WHERE h.job_id > $1 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = h.job_id)
			ORDER BY h.job_id LIMIT $2`, cleanText(cursor), n)
	})
}
