package pgstore

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// The finished runs of Stats and RunCounts: the folded counts plus the
// deltas the triggers appended since the last StatsCompact (migration
// 0006), read in one snapshot, so a concurrent fold is never seen half.
const (
	countsByStatusSQL = `SELECT status, sum(n) FROM (
			SELECT status, n FROM run_counts UNION ALL SELECT status, n FROM run_count_deltas) AS c
		GROUP BY status`
	hourlyByStatusSQL = `SELECT status, sum(n) FROM (
			SELECT status, n FROM run_counts_hourly WHERE hour >= $1
			UNION ALL SELECT status, n FROM run_count_deltas WHERE hour >= $1) AS c
		GROUP BY status`
	countsByJobSQL = `SELECT job_id, status, sum(n) FROM (
			SELECT job_id, status, n FROM run_counts UNION ALL SELECT job_id, status, n FROM run_count_deltas) AS c
		GROUP BY job_id, status HAVING sum(n) <> 0`
	countsByHourSQL = `SELECT hour, status, sum(n) FROM (
			SELECT hour, status, n FROM run_counts_hourly WHERE hour >= $1
			UNION ALL SELECT hour, status, n FROM run_count_deltas WHERE hour >= $1) AS c
		GROUP BY hour, status HAVING sum(n) <> 0`
)

// Stats implements store.Store. Its queries go in one round trip, inside
// one REPEATABLE READ read-only transaction, so they see one snapshot. The
// active set is counted through the partial indexes runs_claim and
// runs_running, the finished runs come from the maintained counts: nothing
// here reads the history.
//
// A queue's depth counts all its QUEUED runs; its oldest age is measured
// from available_at, over the runs already available, so that a retry
// waiting out its back-off does not look like a stuck queue. ActiveNodes
// counts the nodes whose present_state is active or activating.
func (s *Store) Stats(ctx context.Context, now time.Time) (*connecthub.Stats, error) {
	if _, err := store.StatsTimes(now); err != nil {
		return nil, err
	}
	st := store.NewStats(now)
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		// One count per partial index (runs_claim, runs_running), each by a
		// literal status, so the plan cannot become a scan of the history
		// while the table's statistics lag behind a bulk load.
		b.Queue(`SELECT 'QUEUED', count(*) FROM runs WHERE status = 'QUEUED'
			UNION ALL SELECT 'RUNNING', count(*) FROM runs WHERE status = 'RUNNING'`)
		b.Queue(countsByStatusSQL)
		b.Queue(hourlyByStatusSQL, utc(st.Since24h))
		b.Queue(`SELECT queue, count(*), min(available_at) FILTER (WHERE available_at <= $1)
			FROM runs WHERE status = 'QUEUED' GROUP BY queue ORDER BY queue`, utc(now))
		b.Queue(`SELECT count(*), count(*) FILTER (WHERE enabled) FROM jobs`)
		b.Queue(`SELECT present_state, count(*) FROM nodes GROUP BY present_state`)
		br := tx.SendBatch(ctx, b)
		err := func() error {
			for _, into := range []map[connecthub.RunStatus]int64{st.Runs, st.Runs, st.Runs24h} {
				if err := scanStatusCounts(br, into); err != nil {
					return err
				}
			}
			rows, err := br.Query()
			if err != nil {
				return err
			}
			var (
				q      connecthub.QueueStats
				oldest *time.Time
			)
			if _, err := pgx.ForEachRow(rows, []any{&q.Queue, &q.Depth, &oldest}, func() error {
				q.OldestAgeSecond = 0
				if oldest != nil {
					q.OldestAgeSecond = max(0, now.Sub(*oldest).Seconds())
				}
				st.Queues = append(st.Queues, q)
				return nil
			}); err != nil {
				return err
			}
			if err := br.QueryRow().Scan(&st.Jobs, &st.JobsEnabled); err != nil {
				return err
			}
			if rows, err = br.Query(); err != nil {
				return err
			}
			var (
				state string
				n     int64
			)
			_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
				st.Nodes[state] = n
				return nil
			})
			return err
		}()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	store.FinishStats(st)
	return st, nil
}

// scanStatusCounts adds the next batch result's (status, count) rows to
// into.
func scanStatusCounts(br pgx.BatchResults, into map[connecthub.RunStatus]int64) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	var (
		status string
		n      int64
	)
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		into[connecthub.RunStatus(status)] += n
		return nil
	})
	return err
}

// readSnapshot runs fn in a REPEATABLE READ read-only transaction, so that
// its queries see one snapshot, and maps its error.
func (s *Store) readSnapshot(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if s.closed.Load() {
		return dbErr(errStoreClosed)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return dbErr(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return dbErr(err)
	}
	return dbErr(tx.Commit(ctx))
}

// RunCounts implements store.StatsStore.
func (s *Store) RunCounts(ctx context.Context, since time.Time) (*store.RunCounts, error) {
	c := store.NewRunCounts()
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		var (
			job, status string
			hour        time.Time
			n           int64
		)
		rows, err := tx.Query(ctx, countsByJobSQL)
		if err != nil {
			return err
		}
		if _, err := pgx.ForEachRow(rows, []any{&job, &status, &n}, func() error {
			c.AddJob(job, connecthub.RunStatus(status), n)
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, countsByHourSQL, utc(since.Truncate(time.Hour)))
		if err != nil {
			return err
		}
		_, err = pgx.ForEachRow(rows, []any{&hour, &status, &n}, func() error {
			c.AddHour(hour, connecthub.RunStatus(status), n)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// statsLockID is the transaction-level advisory lock that makes folds one
// at a time per schema (the key mixes in the schema, like the migration
// lock's): a second replica's pass skips rather than waits.
const statsLockSQL = `SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.run_counts'))`

// foldSQL moves every delta into the counts in one statement: the deltas'
// rows are deleted and their sums added, hours before $1 dropped.
const foldSQL = `WITH d AS (DELETE FROM run_count_deltas RETURNING job_id, status, hour, n),
	t AS (INSERT INTO run_counts (job_id, status, n)
		SELECT job_id, status, sum(n) FROM d GROUP BY job_id, status ORDER BY job_id, status
		ON CONFLICT (job_id, status) DO UPDATE SET n = run_counts.n + EXCLUDED.n),
	h AS (INSERT INTO run_counts_hourly (hour, status, n)
		SELECT hour, status, sum(n) FROM d WHERE hour >= $1 GROUP BY hour, status ORDER BY hour, status
		ON CONFLICT (hour, status) DO UPDATE SET n = run_counts_hourly.n + EXCLUDED.n)
	SELECT count(*) FROM d`

// StatsCompact implements store.StatsStore: it folds the deltas into the
// counts, drops zero counts and prunes old hours, in one transaction that
// writers never wait for (they only append deltas, which the fold's
// DELETE does not block).
func (s *Store) StatsCompact(ctx context.Context, now time.Time) error {
	keep, err := store.StatsTimes(now)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, statsLockSQL).Scan(&locked); err != nil {
			return dbErr(err)
		}
		if !locked {
			return nil // another replica is folding right now
		}
		var folded int64
		if err := tx.QueryRow(ctx, foldSQL, utc(keep)).Scan(&folded); err != nil {
			return dbErr(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM run_counts WHERE n = 0`); err != nil {
			return dbErr(err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM run_counts_hourly WHERE hour < $1 OR n = 0`, utc(keep))
		return dbErr(err)
	})
}

// StatsRebuild implements store.StatsStore. It locks the count tables
// first, so that every writer to runs (whose trigger appends to
// run_count_deltas) either committed before the recount, which then sees
// its runs, or waits for it and appends its delta after; then it counts
// the runs from scratch.
func (s *Store) StatsRebuild(ctx context.Context, now time.Time) error {
	keep, err := store.StatsTimes(now)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`LOCK TABLE run_count_deltas, run_counts, run_counts_hourly IN EXCLUSIVE MODE`, nil},
			{`TRUNCATE run_count_deltas, run_counts, run_counts_hourly`, nil},
			{`INSERT INTO run_counts (job_id, status, n)
				SELECT job_id, status, count(*) FROM runs
				WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED') GROUP BY job_id, status`, nil},
			{`INSERT INTO run_counts_hourly (hour, status, n)
				SELECT date_trunc('hour', COALESCE(finished_at, created_at), 'UTC') AS h, status, count(*) FROM runs
				WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED', 'SKIPPED') AND COALESCE(finished_at, created_at) >= $1
				GROUP BY h, status`, []any{utc(keep)}},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
				return dbErr(err)
			}
		}
		return nil
	})
}

// lastRunsSQL finds each job's newest finished run with one backward seek
// of runs_job_finished per finished status, each status a literal: the
// planner uses a partial index only where it can prove the index's WHERE
// from the query's, which a status computed at run time (say, from an
// unnest) does not allow, and it would then walk runs_job back, which for
// a status the job never ended in reads all its runs. GREATEST ignores
// the NULL of a status without runs.
var lastRunsSQL = func() string {
	var seeks []string
	for _, st := range []string{"SUCCESS", "FAILURE", "CANCELED", "SKIPPED"} {
		seeks = append(seeks, `(SELECT id FROM runs WHERE job_id = j.id AND status = '`+st+`' ORDER BY id DESC LIMIT 1)`)
	}
	return `SELECT r.job_id, r.id, r.status, r."trigger", r.finished_at
	FROM unnest($1::text[]) AS j(id)
	CROSS JOIN LATERAL (SELECT GREATEST(` + strings.Join(seeks, ", ") + `) AS id) AS m
	JOIN runs AS r ON r.id = m.id`
}()

// JobLastRuns implements store.StatsStore in one statement.
func (s *Store) JobLastRuns(ctx context.Context, jobIDs []string) (map[string]*connecthub.RunSummary, error) {
	if err := store.CheckJobIDs(jobIDs); err != nil {
		return nil, err
	}
	out := make(map[string]*connecthub.RunSummary, len(jobIDs))
	if len(jobIDs) == 0 {
		return out, nil
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, lastRunsSQL, jobIDs)
	if err != nil {
		return nil, dbErr(err)
	}
	var (
		job      string
		r        connecthub.RunSummary
		finished *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&job, &r.ID, &r.Status, &r.Trigger, &finished}, func() error {
		sum := r
		sum.FinishedAt = utcPtr(finished)
		out[job] = &sum
		return nil
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return out, nil
}

// JobDurations implements store.StatsStore, walking runs_job_finished
// backwards from the job's newest successful run.
func (s *Store) JobDurations(ctx context.Context, jobID string, n int) ([]time.Duration, error) {
	if err := store.CheckDurationSample(n); err != nil {
		return nil, err
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT started_at, finished_at FROM runs
		WHERE job_id = $1 AND status = 'SUCCESS' ORDER BY id DESC LIMIT $2`, jobID, n)
	if err != nil {
		return nil, dbErr(err)
	}
	out := []time.Duration{}
	var started, finished *time.Time
	_, err = pgx.ForEachRow(rows, []any{&started, &finished}, func() error {
		if started != nil && finished != nil {
			out = append(out, finished.Sub(*started))
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return out, nil
}

// historySQL inserts the runs i in [$1, $2) of a synthetic history
// (store.History), created at $3 + i*$4 microseconds, the i-th of the job
// at index i % $5 of the arrays $6.. (ids, queues, priorities, handlers,
// snapshots). The runs go in in the order of their ids (creation time,
// then number), so every index of runs grows at its end or at one point
// per job rather than at random pages: at ten million runs that is what
// keeps the load from waiting on the disk.
var historySQL = func() string {
	id, status, dur := store.HistorySQL("i", "c")
	return `INSERT INTO runs (id, job_id, status, "trigger", scheduled_for, queue, priority, handler, snapshot,
		attempt, max_attempts, available_at, started_at, finished_at, created_at, updated_at)
	SELECT ` + id + `, j.id, ` + status + `, 'cron', ts, j.queue, j.priority, j.handler, j.snapshot::json, 1, 1, ts, ts, fin, ts, fin
	FROM (SELECT i, c, timestamptz 'epoch' + c * interval '1 microsecond' AS ts,
			timestamptz 'epoch' + (c + ` + dur + `) * interval '1 microsecond' AS fin
		FROM (SELECT i, $3::bigint + i * $4::bigint AS c FROM generate_series($1::bigint, $2::bigint - 1) AS i) AS a) AS r
	JOIN unnest($6::text[], $7::text[], $8::integer[], $9::text[], $10::text[]) WITH ORDINALITY
		AS j(id, queue, priority, handler, snapshot, k) ON j.k = r.i % $5::bigint + 1
	ORDER BY r.i`
}()

// LoadHistory implements store.HistoryLoader: one INSERT ... SELECT over
// generate_series per store.HistoryChunk runs of all jobs, each its own
// transaction; the statement-level count triggers add one delta row per
// hour and status per statement.
func (s *Store) LoadHistory(ctx context.Context, h store.History) error {
	if err := h.Check(); err != nil {
		return err
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	n := int64(len(h.Jobs))
	var ids, queues, handlers, snaps []string
	var prios []int32
	for _, job := range h.Jobs {
		r, snap, err := store.HistorySnapshot(job, h.From)
		if err != nil {
			return err
		}
		ids, queues, handlers, snaps = append(ids, job.ID), append(queues, r.Queue), append(handlers, r.Snapshot.Handler), append(snaps, snap)
		prios = append(prios, int32(r.Priority))
	}
	end := h.Offset + h.Runs
	for lo := h.Offset; lo < end; lo += store.HistoryChunk {
		hi := min(lo+store.HistoryChunk, end)
		if _, err := db.Exec(ctx, historySQL, lo, hi, h.From.UnixMicro(), h.Step.Microseconds(), n,
			ids, queues, prios, handlers, snaps); err != nil {
			return dbErr(err)
		}
	}
	return nil
}
