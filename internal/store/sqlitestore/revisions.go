package sqlitestore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// recordJobRevision records, in tx, the revision of a change of a job (op
// is RevisionCreate with before nil, RevisionUpdate, or RevisionDelete
// with after nil), as store.JobRevision decides it: nothing for an update
// that changed nothing, and first a baseline for a job that has no
// revision yet. Every write of a job calls it in its own transaction,
// after the job's row was written.
func recordJobRevision(ctx context.Context, tx *sqlx.Tx, op string, before, after *connecthub.Job) error {
	return store.RecordJobRevision(ctx, op, before, after, func(jobID string) (bool, error) {
		var last int
		err := tx.GetContext(ctx, &last, `SELECT last_revision FROM job_revision_heads WHERE job_id = ?`, jobID)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, dbErr(err)
	}, func(rev *connecthub.Revision) error { return insertRevision(ctx, tx, rev) })
}

// insertRevision writes rev in tx with store.WriteRevision.
func insertRevision(ctx context.Context, tx *sqlx.Tx, rev *connecthub.Revision) error {
	return store.WriteRevision(rev, func(jobID string) (n int, err error) {
		err = tx.GetContext(ctx, &n, `INSERT INTO job_revision_heads (job_id, last_revision) VALUES (?, 1)
			ON CONFLICT (job_id) DO UPDATE SET last_revision = last_revision + 1 RETURNING last_revision`, jobID)
		return n, dbErr(err)
	}, func(rev *connecthub.Revision, row store.RevisionRow) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO job_revisions (id, `+store.RevisionColumns+`, secret_cfg)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, row.Key, rev.JobID, rev.Revision, rev.Action,
			rev.Actor, rev.ActorKind, rev.Source, micros(rev.At), string(rev.Definition), row.Keys, row.Print, rev.SecretCfg)
		return dbErr(err)
	})
}

// scanRevision reads the store.RevisionColumns of a row, and secret_cfg after
// them when withSecret.
func scanRevision(sc scanner, withSecret bool) (*connecthub.Revision, error) {
	return store.ScanRevision(sc, withSecret, fromMicros)
}

// RevisionList implements store.RevisionStore.
func (s *Store) RevisionList(ctx context.Context, f connecthub.RevisionFilter) ([]*connecthub.Revision, string, error) {
	limit, below, err := store.CheckRevisionFilter(f)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + store.RevisionColumns + ` FROM job_revisions WHERE job_id = ?`
	args := []any{f.JobID}
	if below > 0 {
		q += ` AND revision < ?`
		args = append(args, below)
	}
	q += ` ORDER BY revision DESC LIMIT ?`
	revs, err := s.queryRevisions(ctx, q, append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	revs, next := store.Page(revs, limit, store.RevisionCursor)
	return revs, next, nil
}

func (s *Store) queryRevisions(ctx context.Context, q string, args ...any) ([]*connecthub.Revision, error) {
	return queryAll(ctx, s.r, scanListedRevision, q, args...)
}

// scanListedRevision reads a revision without its secret_cfg.
func scanListedRevision(sc scanner) (*connecthub.Revision, error) { return scanRevision(sc, false) }

// RevisionGet implements store.RevisionStore.
func (s *Store) RevisionGet(ctx context.Context, jobID string, revision int) (*connecthub.Revision, error) {
	r, err := scanRevision(s.r.QueryRowxContext(ctx, `SELECT `+store.RevisionColumns+`, secret_cfg FROM job_revisions
		WHERE job_id = ? AND revision = ?`, jobID, revision), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connecthub.NotFound("revision", store.RevisionKey(jobID, revision))
	}
	return r, dbErr(err)
}

// RevisionDeletedJobs implements store.RevisionStore: the heads of job ids
// that have no job row, each joined to its last revision.
func (s *Store) RevisionDeletedJobs(ctx context.Context, p store.DeletedJobsParams) ([]*connecthub.DeletedJob, string, error) {
	return store.ListDeletedJobs(p, func(cursor string, n int) ([]*connecthub.Revision, error) {
		return s.queryRevisions(ctx, `SELECT r.job_id, r.revision, r.action, r.actor, r.actor_kind, r.source, r.at,
				r.definition, r.secret_keys, r.secret_fingerprint
			FROM job_revision_heads h JOIN job_revisions r ON r.job_id = h.job_id AND r.revision = h.last_revision
			WHERE h.job_id > ? AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = h.job_id)
			ORDER BY h.job_id LIMIT ?`, cursor, n)
	})
}
