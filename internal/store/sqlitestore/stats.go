package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
)

// The queries of Stats. Those over runs are each served by a partial
// index; the nodes table is small (one row per process) and is scanned.
const (
	statsQueuedSQL   = `SELECT 'QUEUED', COUNT(*) FROM runs WHERE status = 'QUEUED'`
	statsRunningSQL  = `SELECT 'RUNNING', COUNT(*) FROM runs WHERE status = 'RUNNING'`
	statsFinishedSQL = `SELECT status, COUNT(*) FROM runs WHERE ` + finishedCondition + ` GROUP BY status`
	statsQueuesSQL   = `SELECT queue, COUNT(*), MIN(CASE WHEN available_at <= ?1 THEN available_at END)
		FROM runs WHERE status = 'QUEUED' GROUP BY queue ORDER BY queue`
	statsNodesSQL = `SELECT COUNT(*) FROM nodes WHERE present_state IN ('active', 'activating')`
)

// Stats implements store.Store from one read snapshot.
//
// A queue's depth counts all its QUEUED runs; its oldest age is measured
// from available_at, over the runs already available, so that a retry
// waiting out its back-off does not look like a stuck queue. ActiveNodes
// counts the nodes whose present_state is active or activating.
func (s *Store) Stats(ctx context.Context, now time.Time) (*connecthub.Stats, error) {
	st := &connecthub.Stats{Runs: make(map[connecthub.RunStatus]int64, len(connecthub.AllStatuses))}
	for _, status := range connecthub.AllStatuses {
		st.Runs[status] = 0
	}
	err := s.read(ctx, func(tx *sqlx.Tx) error {
		// Three index-only counts (one per partial index) rather than one
		// GROUP BY, which would scan the whole table.
		for _, q := range []string{statsQueuedSQL, statsRunningSQL, statsFinishedSQL} {
			rows, err := tx.QueryContext(ctx, q)
			if err != nil {
				return dbErr(err)
			}
			for rows.Next() {
				var (
					status string
					n      int64
				)
				if err := rows.Scan(&status, &n); err != nil {
					rows.Close()
					return dbErr(err)
				}
				st.Runs[connecthub.RunStatus(status)] = n
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return dbErr(err)
			}
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
		return dbErr(tx.QueryRowContext(ctx, statsNodesSQL).Scan(&st.ActiveNodes))
	})
	if err != nil {
		return nil, err
	}
	if st.Queues == nil {
		st.Queues = []connecthub.QueueStats{}
	}
	return st, nil
}
