package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
)

// Stats implements store.Store. Its four queries go in one round trip,
// inside one REPEATABLE READ read-only transaction, so they see one
// snapshot.
//
// A queue's depth counts all its QUEUED runs; its oldest age is measured
// from available_at, over the runs already available, so that a retry
// waiting out its back-off does not look like a stuck queue. ActiveNodes
// counts the nodes whose present_state is active or activating.
func (s *Store) Stats(ctx context.Context, now time.Time) (*connecthub.Stats, error) {
	if s.closed.Load() {
		return nil, dbErr(errStoreClosed)
	}
	st := &connecthub.Stats{
		Runs:   make(map[connecthub.RunStatus]int64, len(connecthub.AllStatuses)),
		Queues: []connecthub.QueueStats{},
	}
	for _, status := range connecthub.AllStatuses {
		st.Runs[status] = 0
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, dbErr(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	b := &pgx.Batch{}
	b.Queue(`SELECT status, count(*) FROM runs GROUP BY status`)
	b.Queue(`SELECT queue, count(*), min(available_at) FILTER (WHERE available_at <= $1)
		FROM runs WHERE status = 'QUEUED' GROUP BY queue ORDER BY queue`, utc(now))
	b.Queue(`SELECT count(*), count(*) FILTER (WHERE enabled) FROM jobs`)
	b.Queue(`SELECT count(*) FROM nodes WHERE present_state IN ('active', 'activating')`)
	br := tx.SendBatch(ctx, b)
	err = func() error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var (
			status string
			n      int64
		)
		if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error {
			st.Runs[connecthub.RunStatus(status)] = n
			return nil
		}); err != nil {
			return err
		}
		if rows, err = br.Query(); err != nil {
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
		return br.QueryRow().Scan(&st.ActiveNodes)
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return st, dbErr(tx.Commit(ctx))
}
