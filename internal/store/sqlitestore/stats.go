package sqlitestore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// The queries of Stats. The active set is counted through the partial
// indexes runs_claim and runs_lease; the finished runs come from the
// maintained counts (migration 0006), whose tables hold one row per job and
// status and one per hour and status, never one per run. The nodes table
// is small (one row per process) and is scanned.
const (
	statsQueuedSQL   = `SELECT 'QUEUED', COUNT(*) FROM runs WHERE status = 'QUEUED'`
	statsRunningSQL  = `SELECT 'RUNNING', COUNT(*) FROM runs WHERE status = 'RUNNING'`
	statsFinishedSQL = `SELECT status, SUM(n) FROM run_counts GROUP BY status`
	statsHourlySQL   = `SELECT status, SUM(n) FROM run_counts_hourly WHERE hour >= ?1 GROUP BY status`
	statsQueuesSQL   = `SELECT queue, COUNT(*), MIN(CASE WHEN available_at <= ?1 THEN available_at END)
		FROM runs WHERE status = 'QUEUED' GROUP BY queue ORDER BY queue`
	statsNodesSQL = `SELECT present_state, COUNT(*) FROM nodes GROUP BY present_state`
)

// hourMicros is an hour in the unit of the hour column.
const hourMicros = int64(time.Hour / time.Microsecond)

// Stats implements store.Store from one read snapshot.
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
	err := s.read(ctx, func(tx *sqlx.Tx) error {
		for _, q := range []string{statsQueuedSQL, statsRunningSQL, statsFinishedSQL} {
			if err := scanStatusCounts(ctx, tx, st.Runs, q); err != nil {
				return err
			}
		}
		if err := scanStatusCounts(ctx, tx, st.Runs24h, statsHourlySQL, micros(st.Since24h)); err != nil {
			return err
		}

		qrows, err := tx.QueryContext(ctx, statsQueuesSQL, micros(now))
		if err != nil {
			return dbErr(err)
		}
		defer qrows.Close()
		for qrows.Next() {
			var (
				q      connecthub.QueueStats
				oldest sql.NullInt64
			)
			if err := qrows.Scan(&q.Queue, &q.Depth, &oldest); err != nil {
				return dbErr(err)
			}
			if oldest.Valid {
				q.OldestAgeSecond = max(0, now.Sub(fromMicros(oldest.Int64)).Seconds())
			}
			st.Queues = append(st.Queues, q)
		}
		if err := qrows.Err(); err != nil {
			return dbErr(err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(enabled), 0) FROM jobs`).
			Scan(&st.Jobs, &st.JobsEnabled); err != nil {
			return dbErr(err)
		}
		nrows, err := tx.QueryContext(ctx, statsNodesSQL)
		if err != nil {
			return dbErr(err)
		}
		defer nrows.Close()
		for nrows.Next() {
			var (
				state string
				n     int64
			)
			if err := nrows.Scan(&state, &n); err != nil {
				return dbErr(err)
			}
			st.Nodes[state] = n
		}
		return dbErr(nrows.Err())
	})
	if err != nil {
		return nil, err
	}
	store.FinishStats(st)
	return st, nil
}

// scanStatusCounts adds the (status, count) rows of query to into.
func scanStatusCounts(ctx context.Context, tx *sqlx.Tx, into map[connecthub.RunStatus]int64, query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status string
			n      sql.NullInt64
		)
		if err := rows.Scan(&status, &n); err != nil {
			return dbErr(err)
		}
		into[connecthub.RunStatus(status)] += n.Int64
	}
	return dbErr(rows.Err())
}

// RunCounts implements store.StatsStore.
func (s *Store) RunCounts(ctx context.Context, since time.Time) (*store.RunCounts, error) {
	c := store.NewRunCounts()
	err := s.read(ctx, func(tx *sqlx.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT job_id, status, n FROM run_counts WHERE n <> 0`)
		if err != nil {
			return dbErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				job, status string
				n           int64
			)
			if err := rows.Scan(&job, &status, &n); err != nil {
				return dbErr(err)
			}
			c.AddJob(job, connecthub.RunStatus(status), n)
		}
		if err := rows.Err(); err != nil {
			return dbErr(err)
		}
		hrows, err := tx.QueryContext(ctx, `SELECT hour, status, n FROM run_counts_hourly WHERE hour >= ? AND n <> 0`,
			micros(since.UTC().Truncate(time.Hour)))
		if err != nil {
			return dbErr(err)
		}
		defer hrows.Close()
		for hrows.Next() {
			var (
				hour, n int64
				status  string
			)
			if err := hrows.Scan(&hour, &status, &n); err != nil {
				return dbErr(err)
			}
			c.AddHour(fromMicros(hour), connecthub.RunStatus(status), n)
		}
		return dbErr(hrows.Err())
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// The statements of StatsRebuild: the single writer makes the delete and
// the recount one consistent step.
const (
	rebuildCountsSQL = `INSERT INTO run_counts (job_id, status, n)
		SELECT job_id, status, COUNT(*) FROM runs WHERE ` + finishedCondition + ` GROUP BY job_id, status`
	rebuildHourlySQL = `INSERT INTO run_counts_hourly (hour, status, n)
		SELECT COALESCE(finished_at, created_at) - COALESCE(finished_at, created_at) % 3600000000 AS h, status, COUNT(*)
		FROM runs WHERE ` + finishedCondition + ` AND COALESCE(finished_at, created_at) >= ?1 GROUP BY h, status`
)

// StatsRebuild implements store.StatsStore in one write transaction.
func (s *Store) StatsRebuild(ctx context.Context, now time.Time) error {
	keep, err := store.StatsTimes(now)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM run_counts`, nil},
			{`DELETE FROM run_counts_hourly`, nil},
			{rebuildCountsSQL, nil},
			{rebuildHourlySQL, []any{micros(keep)}},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
				return dbErr(err)
			}
		}
		return nil
	})
}

// StatsCompact implements store.StatsStore. The triggers write the counts
// themselves (one writer, no contention), so there is nothing to fold:
// the pass drops zero counts (a deleted job's) and the old hours.
func (s *Store) StatsCompact(ctx context.Context, now time.Time) error {
	keep, err := store.StatsTimes(now)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM run_counts WHERE n = 0`); err != nil {
			return dbErr(err)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM run_counts_hourly WHERE hour < ? OR n = 0`, micros(keep))
		return dbErr(err)
	})
}

// lastRunSQL finds a job's newest finished run with one seek of
// runs_job_finished per finished status (the MAX of an index's last
// column under equalities is its last entry). The index is named, and its
// condition repeated, because SQLite uses a partial index only for a
// query that states its WHERE, and would otherwise walk runs_job back
// over the job's other runs.
var lastRunSQL = func() string {
	var b strings.Builder
	for i, st := range []string{"SUCCESS", "FAILURE", "CANCELED", "SKIPPED"} {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString(`SELECT MAX(id) AS id FROM runs INDEXED BY runs_job_finished
			WHERE job_id = ?1 AND status = '` + st + `' AND ` + finishedCondition)
	}
	return `SELECT id, status, "trigger", finished_at FROM runs WHERE id = (SELECT MAX(id) FROM (` + b.String() + `))`
}()

// JobLastRuns implements store.StatsStore: one indexed lookup per job, in
// one read snapshot.
func (s *Store) JobLastRuns(ctx context.Context, jobIDs []string) (map[string]*connecthub.RunSummary, error) {
	if err := store.CheckJobIDs(jobIDs); err != nil {
		return nil, err
	}
	out := make(map[string]*connecthub.RunSummary, len(jobIDs))
	err := s.read(ctx, func(tx *sqlx.Tx) error {
		stmt, err := tx.PreparexContext(ctx, lastRunSQL)
		if err != nil {
			return dbErr(err)
		}
		defer stmt.Close()
		for _, id := range jobIDs {
			var (
				r        connecthub.RunSummary
				finished sql.NullInt64
			)
			err := stmt.QueryRowContext(ctx, id).Scan(&r.ID, &r.Status, &r.Trigger, &finished)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return dbErr(err)
			}
			r.FinishedAt = timePtr(finished)
			out[id] = &r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// durationsSQL reads a job's last successful runs from runs_job_finished.
const durationsSQL = `SELECT started_at, finished_at FROM runs INDEXED BY runs_job_finished
	WHERE job_id = ? AND status = 'SUCCESS' AND ` + finishedCondition + ` ORDER BY id DESC LIMIT ?`

// JobDurations implements store.StatsStore, walking runs_job_finished
// backwards from the job's newest successful run.
func (s *Store) JobDurations(ctx context.Context, jobID string, n int) ([]time.Duration, error) {
	if err := store.CheckDurationSample(n); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, durationsSQL, jobID, n)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []time.Duration{}
	for rows.Next() {
		var started, finished sql.NullInt64
		if err := rows.Scan(&started, &finished); err != nil {
			return nil, dbErr(err)
		}
		if started.Valid && finished.Valid {
			out = append(out, time.Duration(finished.Int64-started.Int64)*time.Microsecond)
		}
	}
	return out, dbErr(rows.Err())
}

// historySQL inserts the runs i in [?1, ?2) of a synthetic history
// (store.History), created at ?3 + i*?4 microseconds, the i-th of the job
// numbered i % ?5 in temp.history_jobs. The runs go in in the order of
// their ids (creation time, then number), so every index of runs grows at
// its end or at one point per job rather than at random places: at ten
// million runs that is what keeps the load from waiting on the disk. The
// CROSS JOIN keeps the sequence the outer loop, so each run looks its job
// up by rowid.
var historySQL = func() string {
	id, status, dur := store.HistorySQL("i", "c")
	return `WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?2)
	INSERT INTO runs (id, job_id, status, "trigger", scheduled_for, queue, priority, handler, snapshot,
		attempt, max_attempts, available_at, started_at, finished_at, created_at, updated_at)
	SELECT ` + id + `, j.id, ` + status + `, 'cron', c, j.queue, j.priority, j.handler, j.snapshot, 1, 1, c, c, c + ` + dur + `, c, c + ` + dur + `
	FROM (SELECT i, ?3 + i * ?4 AS c FROM seq) AS r CROSS JOIN temp.history_jobs AS j ON j.k = r.i % ?5`
}()

// historyJobsSQL makes the temporary table of the history's jobs, on the
// writer connection, for historySQL.
const historyJobsSQL = `CREATE TEMP TABLE IF NOT EXISTS history_jobs (
	k INTEGER PRIMARY KEY, id TEXT NOT NULL, queue TEXT NOT NULL, priority INTEGER NOT NULL,
	handler TEXT NOT NULL, snapshot TEXT NOT NULL)`

// LoadHistory implements store.HistoryLoader: one INSERT ... SELECT over
// a recursive sequence per store.HistoryChunk runs of all jobs, each in its
// own write transaction (so the WAL stays small) with its counts. For the
// load only, the writer connection runs with synchronous=OFF and a large
// page cache: a bulk load that a crash interrupts is simply loaded again,
// and the settings are restored before it returns.
func (s *Store) LoadHistory(ctx context.Context, h store.History) error {
	if err := h.Check(); err != nil {
		return err
	}
	n := int64(len(h.Jobs))
	end := h.Offset + h.Runs
	type jobRow struct {
		run  *connecthub.Run
		snap string
	}
	rows := make([]jobRow, n)
	for k, job := range h.Jobs {
		r, snap, err := store.HistorySnapshot(job, h.From)
		if err != nil {
			return err
		}
		rows[k] = jobRow{r, snap}
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA synchronous=OFF; PRAGMA cache_size=-524288"); err != nil {
		return dbErr(err)
	}
	defer s.w.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous=NORMAL; PRAGMA cache_size="+writerCacheSize+"; DROP TABLE IF EXISTS temp.history_jobs")
	for lo := h.Offset; lo < end; lo += store.HistoryChunk {
		hi := min(lo+store.HistoryChunk, end)
		var counts finishCounts
		for i := lo; i < hi; i++ {
			counts.add(h.Jobs[i%n].ID, store.HistoryStatus(i), micros(h.HistoryFinished(i)), 1)
		}
		err := s.write(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, historyJobsSQL); err != nil {
				return dbErr(err)
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM temp.history_jobs"); err != nil {
				return dbErr(err)
			}
			for k, j := range rows {
				if _, err := tx.ExecContext(ctx, "INSERT INTO temp.history_jobs VALUES (?, ?, ?, ?, ?, ?)",
					k, j.run.JobID, j.run.Queue, int64(j.run.Priority), j.run.Snapshot.Handler, j.snap); err != nil {
					return dbErr(err)
				}
			}
			if _, err := tx.ExecContext(ctx, historySQL, lo, hi, micros(h.From), h.Step.Microseconds(), n); err != nil {
				return dbErr(err)
			}
			return counts.flush(ctx, tx, &s.stmts)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// finishCounts gathers, within one write transaction, the finished runs
// that the driver's statements inserted or finished, and adds them to the
// counts in one statement per table (flush). Deletes are counted by the
// trigger of migration 0006, whatever their path; a trigger on INSERT or
// UPDATE would cost SQLite a sub-program call for every row written, even
// a QUEUED insert or a claim it does not count (measured: inserts +40% CPU,
// completions at half the rate), so every statement of this driver that
// inserts a finished run, finishes a run, or changes a finished run's
// status, job or finish time reports it here instead. The conformance
// group RunCounts checks every such path against a full count.
type finishCounts struct {
	jobs  map[jobStatus]int64
	hours map[hourStatus]int64
}

type jobStatus struct{ job, status string }

type hourStatus struct {
	hour   int64
	status string
}

// add counts n runs of job that finished with status at finishedUS (unix
// microseconds).
func (f *finishCounts) add(job string, status connecthub.RunStatus, finishedUS int64, n int64) {
	if n == 0 || !status.Terminal() {
		return
	}
	if f.jobs == nil {
		f.jobs, f.hours = map[jobStatus]int64{}, map[hourStatus]int64{}
	}
	f.jobs[jobStatus{job, string(status)}] += n
	f.hours[hourStatus{finishedUS - finishedUS%hourMicros, string(status)}] += n
}

// addRun counts r, read back after the UPDATE that finished it.
func (f *finishCounts) addRun(r *connecthub.Run) {
	at := r.CreatedAt
	if r.FinishedAt != nil {
		at = *r.FinishedAt
	}
	f.add(r.JobID, r.Status, micros(at), 1)
}

// The upserts of finishCounts.flush, one row each. Open prepares them
// into the writer's statement cache: a flush runs inside a write
// transaction, which holds the only writer connection, so it cannot
// prepare a statement there.
const (
	countUpsertSQL = `INSERT INTO run_counts (job_id, status, n) VALUES (?, ?, ?)
		ON CONFLICT (job_id, status) DO UPDATE SET n = n + excluded.n`
	hourlyUpsertSQL = `INSERT INTO run_counts_hourly (hour, status, n) VALUES (?, ?, ?)
		ON CONFLICT (hour, status) DO UPDATE SET n = n + excluded.n`
)

// flush adds what was gathered to the counts, in tx, and resets f: one
// upsert per job and status and one per hour and status (a completion
// batch of one job in one hour is two).
func (f *finishCounts) flush(ctx context.Context, tx *sqlx.Tx, cache *stmtCache) error {
	if len(f.jobs) == 0 {
		return nil
	}
	exec := func(query string, args ...any) error {
		var err error
		if st, ok := cache.cached(query); ok {
			_, err = tx.StmtxContext(ctx, st).ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, query, args...)
		}
		return dbErr(err)
	}
	for k, n := range f.jobs {
		if err := exec(countUpsertSQL, k.job, k.status, n); err != nil {
			return err
		}
	}
	for k, n := range f.hours {
		if err := exec(hourlyUpsertSQL, k.hour, k.status, n); err != nil {
			return err
		}
	}
	f.jobs, f.hours = nil, nil
	return nil
}
