package pgstore

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// cleanRunText replaces the bytes PostgreSQL text cannot hold in a run's
// message, error and traceback.
func cleanRunText(c *connecthub.Run) {
	c.Message = cleanText(c.Message)
	c.Error = cleanText(c.Error)
	c.Traceback = cleanText(c.Traceback)
}

// runRows holds a batch of runs column by column: the arguments of
// insertRunsSQL, which unnests them into rows. One statement text serves
// every batch size, and a batch of thousands is one round trip.
type runRows struct {
	id, jobID, status, trigger, queue, handler, snapshot, secret, attempts []string
	node, message, errText, traceback                                      []string
	scheduledFor, availableAt, createdAt, updatedAt                        []time.Time
	leaseExpiresAt, heartbeatAt, startedAt, finishedAt                     []*time.Time
	priority, attempt, maxAttempts                                         []int32
	cancelRequested                                                        []bool
	result, meta                                                           []*string
}

func (rr *runRows) add(r *connecthub.Run) error {
	snap, err := store.EncodeSnapshot(r.Snapshot)
	if err != nil {
		return err
	}
	attempts, err := store.EncodeAttempts(r.Attempts)
	if err != nil {
		return err
	}
	rr.id = append(rr.id, r.ID)
	rr.jobID = append(rr.jobID, r.JobID)
	rr.status = append(rr.status, string(r.Status))
	rr.trigger = append(rr.trigger, string(r.Trigger))
	rr.scheduledFor = append(rr.scheduledFor, utc(r.ScheduledFor))
	rr.queue = append(rr.queue, r.Queue)
	rr.priority = append(rr.priority, int32(r.Priority))
	rr.handler = append(rr.handler, r.Snapshot.Handler)
	rr.snapshot = append(rr.snapshot, snap)
	rr.secret = append(rr.secret, r.Snapshot.SecretCfg)
	rr.attempt = append(rr.attempt, int32(r.Attempt))
	rr.maxAttempts = append(rr.maxAttempts, int32(r.MaxAttempts))
	rr.attempts = append(rr.attempts, attempts)
	rr.availableAt = append(rr.availableAt, utc(r.AvailableAt))
	rr.node = append(rr.node, r.Node)
	rr.leaseExpiresAt = append(rr.leaseExpiresAt, utcPtr(r.LeaseExpiresAt))
	rr.heartbeatAt = append(rr.heartbeatAt, utcPtr(r.HeartbeatAt))
	rr.cancelRequested = append(rr.cancelRequested, r.CancelRequested)
	rr.startedAt = append(rr.startedAt, utcPtr(r.StartedAt))
	rr.finishedAt = append(rr.finishedAt, utcPtr(r.FinishedAt))
	rr.message = append(rr.message, r.Message)
	rr.errText = append(rr.errText, r.Error)
	rr.traceback = append(rr.traceback, r.Traceback)
	rr.result = append(rr.result, nullJSON(r.Result))
	rr.createdAt = append(rr.createdAt, utc(r.CreatedAt))
	rr.updatedAt = append(rr.updatedAt, utc(r.UpdatedAt))
	rr.meta = append(rr.meta, nullJSON(r.Meta))
	return nil
}

func (rr *runRows) len() int { return len(rr.id) }

// args returns the arguments of insertRunsSQL, in its order.
func (rr *runRows) args() []any {
	return []any{
		rr.id, rr.jobID, rr.status, rr.trigger, rr.scheduledFor, rr.queue, rr.priority, rr.handler,
		rr.snapshot, rr.secret, rr.attempt, rr.maxAttempts, rr.attempts, rr.availableAt, rr.node,
		rr.leaseExpiresAt, rr.heartbeatAt, rr.cancelRequested, rr.startedAt, rr.finishedAt, rr.message,
		rr.errText, rr.traceback, rr.result, rr.createdAt, rr.updatedAt, rr.meta,
	}
}

// insertRunsSQL inserts the rows of a runRows, with their jobs checked
// and locked as runJobsLocked says.
const insertRunsSQL = runJobsLocked + `INSERT INTO runs (id, job_id, status, "trigger", scheduled_for, queue, priority, handler,
	snapshot, snapshot_secret, attempt, max_attempts, attempts, available_at, node,
	lease_expires_at, heartbeat_at, cancel_requested, started_at, finished_at, message,
	error, traceback, result, created_at, updated_at, meta)
	SELECT u.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::int[], $8::text[],
		$9::json[], $10::text[], $11::int[], $12::int[], $13::json[], $14::timestamptz[], $15::text[],
		$16::timestamptz[], $17::timestamptz[], $18::boolean[], $19::timestamptz[], $20::timestamptz[], $21::text[],
		$22::text[], $23::text[], $24::json[], $25::timestamptz[], $26::timestamptz[], $27::json[])` + runJobsChecked

// runJobsLocked and runJobsChecked wrap a run insert whose rows are
// unnest(...) AS u, with the job ids in $2: they keep the rule a foreign
// key from runs to jobs kept before schema version 26. The jobs' rows are
// locked FOR KEY SHARE until the transaction ends (as the key's check
// locked them), so a job deletion, which locks its row FOR UPDATE before
// it deletes the job's runs, waits for the insert or the insert for it; a
// run whose job does not exist (or was deleted meanwhile) fails the
// statement with a foreign_key_violation (connecthub_job_missing), which
// dbErr maps as it mapped the key's.
const (
	runJobsLocked  = `WITH j AS (SELECT id FROM jobs WHERE id = ANY($2::text[]) FOR KEY SHARE) `
	runJobsChecked = ` AS u (id, job_id) LEFT JOIN j ON j.id = u.job_id
	WHERE CASE WHEN j.id IS NULL THEN connecthub_job_missing(u.job_id) ELSE true END`
)

// RunInsert implements store.RunStore. The batch is one statement, whatever
// its size: all or nothing.
func (s *Store) RunInsert(ctx context.Context, runs []*connecthub.Run) error {
	queued, err := store.InsertRuns(runs, &s.ids, func(rows []*connecthub.Run, queued bool) error {
		var cols runRows
		for _, c := range rows {
			cleanRunText(c)
			if err := cols.add(c); err != nil {
				return err
			}
		}
		b := &pgx.Batch{}
		b.Queue(insertRunsSQL, cols.args()...)
		if queued {
			s.queueNotify(b, store.TopicRuns)
		}
		return dbErr(s.sendBatch(ctx, b, func(br pgx.BatchResults) error {
			for range b.Len() {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return nil
		}))
	})
	if queued {
		s.Publish(store.TopicRuns)
	}
	return err
}

// RunGet implements store.RunStore.
func (s *Store) RunGet(ctx context.Context, id string) (*connecthub.Run, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	r, err := scanRun(db.QueryRow(ctx, `SELECT `+store.RunColumns(false)+` FROM runs WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "run", id)
	}
	return r, nil
}

// RunSecret implements store.RunStore.
func (s *Store) RunSecret(ctx context.Context, id string) (string, error) {
	db, err := s.db()
	if err != nil {
		return "", err
	}
	var secret string
	if err := db.QueryRow(ctx, `SELECT snapshot_secret FROM runs WHERE id = $1`, id).Scan(&secret); err != nil {
		return "", notFound(err, "run", id)
	}
	return secret, nil
}

// RunList implements store.RunStore. Newest first is id order: ids are
// ULIDs made from the creation time.
func (s *Store) RunList(ctx context.Context, p store.RunListParams) ([]*connecthub.Run, string, error) {
	return store.ListRuns(dialect, p, func(tail string, args []any) ([]*connecthub.Run, error) {
		return s.queryRuns(ctx, `SELECT `+store.RunColumns(false)+` FROM runs`+tail, args...)
	})
}

// statusLiterals is the condition "status is one of statuses", with the
// statuses written as literals rather than bound: the planner can then
// prove the predicate of a partial index (runs_status, runs_running,
// runs_job_finished) from it, which it cannot for a parameter whose value
// the plan does not know. CheckRunList has checked that each is a known
// status, so none needs quoting beyond the quotes.
func statusLiterals(statuses []connecthub.RunStatus) string {
	lits := make([]string, len(statuses))
	for i, st := range statuses {
		lits[i] = "'" + string(st) + "'"
	}
	if len(lits) == 1 {
		return "status = " + lits[0]
	}
	return "status IN (" + strings.Join(lits, ", ") + ")"
}

// queryRuns runs a query that returns store.RunColumns.
func (s *Store) queryRuns(ctx context.Context, query string, args ...any) ([]*connecthub.Run, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	runs, err := collectRuns(db.Query(ctx, query, args...))
	return runs, dbErr(err)
}

// collectRuns reads the runs (store.RunColumns) of a query's answer and
// closes its rows; it takes the query's error too, so that a caller can
// hand it the query's two results.
func collectRuns(rows pgx.Rows, err error) ([]*connecthub.Run, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var runs []*connecthub.Run
	sc := newRunScanner(true)
	for rows.Next() {
		r, err := sc.scan(rows)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// RunLogAppend implements store.RunStore. The chunk is stored as a new row
// at the log's current end; nothing already written is rewritten. One
// statement: the UPDATE locks the run's row, so concurrent appends to one
// run take turns and each gets its own offset.
func (s *Store) RunLogAppend(ctx context.Context, id string, chunk string) error {
	if chunk == "" {
		return nil
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `WITH grown AS (
			UPDATE runs SET log_size = log_size + $3
			WHERE id = $1 AND status = 'RUNNING'
			RETURNING id, log_size - $3 AS off)
		INSERT INTO run_logs (run_id, off, data) SELECT id, off, $2 FROM grown`,
		id, []byte(chunk), int64(len(chunk)))
	// A run that is not RUNNING (or does not exist) inserts nothing: the
	// append is ignored, as the contract says.
	return dbErr(err)
}

// RunLogRead implements store.RunStore. The status and the log come from
// one statement, hence one snapshot: a follower that sees a final status
// has seen the whole log.
func (s *Store) RunLogRead(ctx context.Context, id string, offset int64) (store.RunLogChunk, error) {
	if err := store.CheckLogOffset(offset); err != nil {
		return store.RunLogChunk{}, err
	}
	db, err := s.db()
	if err != nil {
		return store.RunLogChunk{}, err
	}
	// The chunks that hold bytes at or after offset, in order.
	rows, err := db.Query(ctx, `SELECT r.status, r.log_size, l.off, l.data
		FROM runs r LEFT JOIN LATERAL (
			SELECT off, data FROM run_logs
			WHERE run_id = r.id AND off + length(data) > $2
			ORDER BY off) l ON true
		WHERE r.id = $1`, id, offset)
	if err != nil {
		return store.RunLogChunk{}, dbErr(err)
	}
	defer rows.Close()
	var chunk *store.LogChunkBuilder
	for rows.Next() {
		var (
			status  string
			logSize int64
			off     *int64
			data    []byte
		)
		if err := rows.Scan(&status, &logSize, &off, &data); err != nil {
			return store.RunLogChunk{}, dbErr(err)
		}
		if chunk == nil {
			chunk = store.NewLogChunk(connecthub.RunStatus(status), logSize, offset)
		}
		if off != nil { // nil: no log at or after offset
			chunk.Add(*off, data)
		}
	}
	if err := rows.Err(); err != nil {
		return store.RunLogChunk{}, dbErr(err)
	}
	if chunk == nil {
		return store.RunLogChunk{}, connecthub.NotFound("run", id)
	}
	return chunk.Chunk(), nil
}

// RunCancel implements store.RunStore.
func (s *Store) RunCancel(ctx context.Context, id string, now time.Time) (*connecthub.Run, error) {
	return store.CancelRun(s.inTx(ctx), id, now, store.CancelSteps[pgx.Tx]{
		Status: func(tx pgx.Tx) (connecthub.RunStatus, error) {
			var status string
			err := tx.QueryRow(ctx, `SELECT status FROM runs WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&status)
			return connecthub.RunStatus(status), notFound(err, "run", id)
		},
		EndQueued: func(tx pgx.Tx) (*connecthub.Run, error) {
			run, err := scanRun(tx.QueryRow(ctx, `UPDATE runs SET status = 'CANCELED', finished_at = $1, error = $2, updated_at = $1
				WHERE id = $3 RETURNING `+store.RunColumns(false), utc(now), connecthub.ReasonCanceled, id))
			return run, dbErr(err)
		},
		RequestCancel: func(tx pgx.Tx) (*connecthub.Run, error) {
			run, err := scanRun(tx.QueryRow(ctx, `UPDATE runs SET cancel_requested = true, updated_at = $1
				WHERE id = $2 RETURNING `+store.RunColumns(false), utc(now), id))
			if err != nil {
				return nil, dbErr(err)
			}
			return run, s.notify(ctx, tx, store.TopicCancel)
		},
		Publish: s.Publish,
	})
}

// RunDeleteFinished implements store.RunStore, in one statement.
func (s *Store) RunDeleteFinished(ctx context.Context, jobID string) (int64, error) {
	var (
		jobs int
		n    int64
	)
	err := s.conn(ctx, func(db execer) error {
		err := db.QueryRow(ctx, `WITH job AS (SELECT id FROM jobs WHERE id = $1),
		deleted AS (
			DELETE FROM runs WHERE job_id IN (SELECT id FROM job)
				AND status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED')
			RETURNING 1)
		SELECT (SELECT count(*) FROM job), (SELECT count(*) FROM deleted)`, jobID).Scan(&jobs, &n)
		if err != nil {
			return dbErr(err)
		}
		if jobs == 0 {
			// Nothing to record: the audited transaction rolls back.
			return connecthub.NotFound("job", jobID)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// RunActiveCount implements store.RunStore. A job that does not exist has
// no active runs. Each status is counted through its own partial index
// (runs_queued_job, runs_running).
func (s *Store) RunActiveCount(ctx context.Context, jobID string) (int, error) {
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	var n int
	err = db.QueryRow(ctx, `SELECT (SELECT count(*) FROM runs WHERE job_id = $1 AND status = 'QUEUED')
		+ (SELECT count(*) FROM runs WHERE job_id = $1 AND status = 'RUNNING')`, jobID).Scan(&n)
	return n, dbErr(err)
}
