package pgstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// JobCreate implements store.JobStore with store.CreateJob. A
// transaction rather than a batch: the revision's number is read back
// before the revision is written. checkChainWrite takes the chain lock
// only for a job that chains.
func (s *Store) JobCreate(ctx context.Context, job *connecthub.Job) error {
	return store.CreateJob(ctx, s.inTx(ctx), job, s.jobSteps(ctx))
}

// jobSteps are the primitives of store.CreateJob, UpdateJob, DeleteJob
// and WriteBatch in PostgreSQL's SQL. Every job change also notifies the
// other replicas in its transaction.
func (s *Store) jobSteps(ctx context.Context) store.JobSteps[pgx.Tx] {
	return store.JobSteps[pgx.Tx]{
		Read: func(tx pgx.Tx, id string) (*connecthub.Job, error) {
			j, err := scanJob(tx.QueryRow(ctx, `SELECT `+store.JobColumns+` FROM jobs WHERE id = $1 FOR NO KEY UPDATE`, id))
			return j, notFound(err, "job", id)
		},
		CheckText:   checkJobText,
		CheckChains: func(tx pgx.Tx, j *connecthub.Job) error { return checkChainWrite(ctx, tx, j) },
		Insert: func(tx pgx.Tx, j *connecthub.Job) error {
			args, err := jobArgs(j)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO jobs (`+store.JobColumns+`) VALUES (`+placeholders(1, len(args))+`)`, args...)
			if isCode(err, codeUniqueViolation) {
				return store.JobExists(j.ID, err)
			}
			return err
		},
		Write: func(tx pgx.Tx, j *connecthub.Job) (*connecthub.Job, error) {
			args, err := jobArgs(j)
			if err != nil {
				return nil, err
			}
			return scanJob(tx.QueryRow(ctx, `UPDATE jobs SET `+jobUpdateSet+` WHERE id = $1 RETURNING `+store.JobColumns, args...))
		},
		CheckDelete: func(tx pgx.Tx, id string) error { return checkChainDelete(ctx, tx, id) },
		Delete: func(tx pgx.Tx, id string) (*connecthub.Job, error) {
			// The job's row is locked first, so that the runs the next
			// statement deletes are all there will be (runJobsLocked).
			if _, err := tx.Exec(ctx, `SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE`, id); err != nil {
				return nil, dbErr(err)
			}
			if _, err := tx.Exec(ctx, deleteJobRunsSQL, id); err != nil {
				return nil, dbErr(err)
			}
			// RETURNING gives the job as it was, which its delete revision keeps.
			j, err := scanJob(tx.QueryRow(ctx, `DELETE FROM jobs WHERE id = $1 RETURNING `+store.JobColumns, id))
			return j, notFound(err, "job", id)
		},
		Record:  recordJobRevision,
		Notify:  func(tx pgx.Tx) error { return s.notify(ctx, tx, store.TopicJobs) },
		Publish: s.Publish,
	}
}

// deleteJobRunsSQL deletes a job's runs (their logs go with them through
// run_logs' foreign key), one arm per partial index that holds a job's
// runs of some statuses (runs_queued_job, runs_running, runs_job_finished),
// which PostgreSQL reads as a BitmapOr: no index holds all of a job's runs
// (schema version 26).
const deleteJobRunsSQL = `DELETE FROM runs WHERE job_id = $1
	AND (status = 'QUEUED' OR status = 'RUNNING' OR status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED'))`

// JobGet implements store.JobStore.
func (s *Store) JobGet(ctx context.Context, id string) (*connecthub.Job, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	j, err := scanJob(db.QueryRow(ctx, `SELECT `+store.JobColumns+` FROM jobs WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "job", id)
	}
	return j, nil
}

// JobList implements store.JobStore.
func (s *Store) JobList(ctx context.Context, p store.JobListParams) ([]*connecthub.Job, string, error) {
	return store.ListJobs(dialect, p, func(tail string, args []any) ([]*connecthub.Job, error) {
		return s.queryJobs(ctx, `SELECT `+store.JobColumns+` FROM jobs`+tail, args...)
	})
}

func (s *Store) queryJobs(ctx context.Context, query string, args ...any) ([]*connecthub.Job, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	return queryList(ctx, db, scanJob, query, args...)
}

// JobUpdate implements store.JobStore with store.UpdateJob. The job's row
// is locked (SELECT ... FOR NO KEY UPDATE) from the read to the write, so
// concurrent updates of one job take turns and none is lost; runs can still
// be inserted for the job meanwhile, as the id, which their insert locks
// FOR KEY SHARE (runJobsLocked), cannot change. The update function runs
// while the lock and a pool connection are held: it must be quick and must
// not call the store.
func (s *Store) JobUpdate(ctx context.Context, id string, update func(*connecthub.Job) error) (*connecthub.Job, error) {
	return store.UpdateJob(ctx, s.inTx(ctx), id, update, s.jobSteps(ctx))
}

// JobDelete implements store.JobStore with store.DeleteJob. The runs (and
// their logs) go with the job (deleteJobRunsSQL). checkChainDelete
// locks the job's row and the chain lock before it reads who chains to
// the job.
func (s *Store) JobDelete(ctx context.Context, id string) error {
	return store.DeleteJob(ctx, s.inTx(ctx), id, s.jobSteps(ctx))
}

// JobListDue implements store.JobStore.
func (s *Store) JobListDue(ctx context.Context, before time.Time, limit int) ([]*connecthub.Job, error) {
	if err := store.CheckLimit(limit); err != nil {
		return nil, err
	}
	return s.queryJobs(ctx, `SELECT `+store.JobColumns+` FROM jobs
		WHERE enabled AND next_run_at IS NOT NULL AND next_run_at <= $1
		ORDER BY next_run_at, id LIMIT $2`, utc(before), limit)
}

// JobNextDue implements store.JobStore.
func (s *Store) JobNextDue(ctx context.Context) (*time.Time, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	var next *time.Time
	err = db.QueryRow(ctx, `SELECT next_run_at FROM jobs
		WHERE enabled AND next_run_at IS NOT NULL ORDER BY next_run_at LIMIT 1`).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return utcPtr(next), nil
}

// placeholders returns "$from, $from+1, ..." with n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}
