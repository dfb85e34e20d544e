package sqlitestore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

const revisionColumns = `job_id, revision, action, actor, actor_kind, source, at, definition, secret_keys, secret_fingerprint`

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

// insertRevision writes rev in tx with the job's next number, which it
// sets in rev.Revision.
func insertRevision(ctx context.Context, tx *sqlx.Tx, rev *connecthub.Revision) error {
	if err := store.CheckRevision(rev); err != nil {
		return err
	}
	keys, fp, err := store.EncodeRevisionSecrets(rev)
	if err != nil {
		return err
	}
	var n int
	if err := tx.GetContext(ctx, &n, `INSERT INTO job_revision_heads (job_id, last_revision) VALUES (?, 1)
		ON CONFLICT (job_id) DO UPDATE SET last_revision = last_revision + 1 RETURNING last_revision`, rev.JobID); err != nil {
		return dbErr(err)
	}
	rev.Revision = n
	rev.At = store.UTCMicro(rev.At)
	_, err = tx.ExecContext(ctx, `INSERT INTO job_revisions (id, `+revisionColumns+`, secret_cfg)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, store.RevisionKey(rev.JobID, n), rev.JobID, n, rev.Action,
		rev.Actor, rev.ActorKind, rev.Source, micros(rev.At), string(rev.Definition), keys, fp, rev.SecretCfg)
	return dbErr(err)
}

// scanRevision reads the revisionColumns of a row, and secret_cfg after
// them when withSecret.
func scanRevision(sc scanner, withSecret bool) (*connecthub.Revision, error) {
	r := &connecthub.Revision{}
	var (
		at        int64
		def       string
		keys, fp  string
		secretCfg string
	)
	dest := []any{&r.JobID, &r.Revision, &r.Action, &r.Actor, &r.ActorKind, &r.Source, &at, &def, &keys, &fp}
	if withSecret {
		dest = append(dest, &secretCfg)
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	r.At, r.Definition, r.SecretCfg = fromMicros(at), []byte(def), secretCfg
	return r, store.DecodeRevisionSecrets(r, []byte(keys), []byte(fp))
}

// RevisionList implements store.RevisionStore.
func (s *Store) RevisionList(ctx context.Context, f connecthub.RevisionFilter) ([]*connecthub.Revision, string, error) {
	limit, below, err := store.CheckRevisionFilter(f)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + revisionColumns + ` FROM job_revisions WHERE job_id = ?`
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
	rows, err := s.r.QueryxContext(ctx, q, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []*connecthub.Revision
	for rows.Next() {
		r, err := scanRevision(rows, false)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, r)
	}
	return out, dbErr(rows.Err())
}

// RevisionGet implements store.RevisionStore.
func (s *Store) RevisionGet(ctx context.Context, jobID string, revision int) (*connecthub.Revision, error) {
	r, err := scanRevision(s.r.QueryRowxContext(ctx, `SELECT `+revisionColumns+`, secret_cfg FROM job_revisions
		WHERE job_id = ? AND revision = ?`, jobID, revision), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connecthub.NotFound("revision", store.RevisionKey(jobID, revision))
	}
	return r, dbErr(err)
}

// RevisionDeletedJobs implements store.RevisionStore: the heads of job ids
// that have no job row, each joined to its last revision.
func (s *Store) RevisionDeletedJobs(ctx context.Context, p store.DeletedJobsParams) ([]*connecthub.DeletedJob, string, error) {
	limit, err := store.PageLimit(p.Limit)
	if err != nil {
		return nil, "", err
	}
	revs, err := s.queryRevisions(ctx, `SELECT r.job_id, r.revision, r.action, r.actor, r.actor_kind, r.source, r.at,
			r.definition, r.secret_keys, r.secret_fingerprint
		FROM job_revision_heads h JOIN job_revisions r ON r.job_id = h.job_id AND r.revision = h.last_revision
		WHERE h.job_id > ? AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = h.job_id)
		ORDER BY h.job_id LIMIT ?`, p.Cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, next := store.DeletedJobsPage(revs, limit)
	return out, next, nil
}
