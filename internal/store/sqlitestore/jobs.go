package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// JobCreate implements store.JobStore with store.CreateJob.
func (s *Store) JobCreate(ctx context.Context, job *connecthub.Job) error {
	return store.CreateJob(ctx, s.inTx(ctx), job, s.jobSteps(ctx))
}

// jobSteps are the primitives of store.CreateJob, UpdateJob, DeleteJob
// and WriteBatch in SQLite's SQL. The write transaction holds the only writer
// connection, so the rows it reads need no lock.
func (s *Store) jobSteps(ctx context.Context) store.JobSteps[*sqlx.Tx] {
	return store.JobSteps[*sqlx.Tx]{
		Read: func(tx *sqlx.Tx, id string) (*connecthub.Job, error) {
			j, err := scanJob(tx.QueryRowxContext(ctx, `SELECT `+store.JobColumns+` FROM jobs WHERE id = ?`, id))
			return j, notFound(err, "job", id)
		},
		CheckChains: func(tx *sqlx.Tx, j *connecthub.Job) error { return checkChainWrite(ctx, tx, j) },
		Insert: func(tx *sqlx.Tx, j *connecthub.Job) error {
			args, err := jobArgs(j)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO jobs (`+store.JobColumns+`) VALUES (`+placeholders(len(args))+`)`, args...)
			if isUniqueViolation(err) {
				return store.JobExists(j.ID, err)
			}
			return err
		},
		Write: func(tx *sqlx.Tx, j *connecthub.Job) (*connecthub.Job, error) {
			args, err := jobArgs(j)
			if err != nil {
				return nil, err
			}
			// args[0] is the id; jobUpdateSQL sets every other column.
			if _, err := tx.ExecContext(ctx, jobUpdateSQL, append(args[1:], j.ID)...); err != nil {
				return nil, dbErr(err)
			}
			return scanJob(tx.QueryRowxContext(ctx, `SELECT `+store.JobColumns+` FROM jobs WHERE id = ?`, j.ID))
		},
		CheckDelete: func(tx *sqlx.Tx, id string) error { return checkChainDelete(ctx, tx, id) },
		Delete: func(tx *sqlx.Tx, id string) (*connecthub.Job, error) {
			// RETURNING gives the job as it was, which its delete revision keeps.
			j, err := scanJob(tx.QueryRowxContext(ctx, `DELETE FROM jobs WHERE id = ? RETURNING `+store.JobColumns, id))
			return j, notFound(err, "job", id)
		},
		Record:  recordJobRevision,
		Publish: s.Publish,
	}
}

// JobGet implements store.JobStore.
func (s *Store) JobGet(ctx context.Context, id string) (*connecthub.Job, error) {
	j, err := scanJob(s.r.QueryRowxContext(ctx, `SELECT `+store.JobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connecthub.NotFound("job", id)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return j, nil
}

// JobList implements store.JobStore.
func (s *Store) JobList(ctx context.Context, p store.JobListParams) ([]*connecthub.Job, string, error) {
	return store.ListJobs(dialect, p, func(tail string, args []any) ([]*connecthub.Job, error) {
		return queryAll(ctx, s.r, scanJob, `SELECT `+store.JobColumns+` FROM jobs`+tail, args...)
	})
}

// jobUpdateSQL writes every column of a job but its id, in store.JobColumns order.
var jobUpdateSQL = func() string {
	cols := strings.Split(store.JobColumns, ",")[1:]
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = strings.TrimSpace(c) + " = ?"
	}
	return `UPDATE jobs SET ` + strings.Join(set, ", ") + ` WHERE id = ?`
}()

// JobUpdate implements store.JobStore with store.UpdateJob. The update
// function runs inside the write transaction, which holds the store's only
// writer connection: it must be quick and must not call the store.
func (s *Store) JobUpdate(ctx context.Context, id string, update func(*connecthub.Job) error) (*connecthub.Job, error) {
	return store.UpdateJob(ctx, s.inTx(ctx), id, update, s.jobSteps(ctx))
}

// JobDelete implements store.JobStore with store.DeleteJob. The runs (and
// their logs) go with the job through ON DELETE CASCADE.
func (s *Store) JobDelete(ctx context.Context, id string) error {
	return store.DeleteJob(ctx, s.inTx(ctx), id, s.jobSteps(ctx))
}

// JobListDue implements store.JobStore.
func (s *Store) JobListDue(ctx context.Context, before time.Time, limit int) ([]*connecthub.Job, error) {
	if err := store.CheckLimit(limit); err != nil {
		return nil, err
	}
	return queryAll(ctx, s.r, scanJob, `SELECT `+store.JobColumns+` FROM jobs
		WHERE enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ?
		ORDER BY next_run_at, id LIMIT ?`, micros(before), limit)
}

// JobNextDue implements store.JobStore.
func (s *Store) JobNextDue(ctx context.Context) (*time.Time, error) {
	var next sql.NullInt64
	err := s.r.GetContext(ctx, &next, `SELECT next_run_at FROM jobs
		WHERE enabled = 1 AND next_run_at IS NOT NULL ORDER BY next_run_at LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return timePtr(next), nil
}
