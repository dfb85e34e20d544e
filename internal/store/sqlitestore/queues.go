package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// QueuePause implements store.QueueStore; INSERT OR IGNORE keeps the
// first pause.
func (s *Store) QueuePause(ctx context.Context, name, by string, now time.Time) (bool, error) {
	if err := store.CheckQueuePause(name, by, now); err != nil {
		return false, err
	}
	return store.TxValue(s.inTx(ctx), func(tx *sqlx.Tx) (bool, error) {
		return changedRows(tx.ExecContext(ctx, `INSERT INTO paused_queues (name, paused_at, paused_by) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, micros(now), by))
	})
}

// QueueResume implements store.QueueStore.
func (s *Store) QueueResume(ctx context.Context, name string) (bool, error) {
	return store.TxValue(s.inTx(ctx), func(tx *sqlx.Tx) (bool, error) {
		return changedRows(tx.ExecContext(ctx, `DELETE FROM paused_queues WHERE name = ?`, name))
	})
}

// changedRows reports whether a statement changed any row.
func changedRows(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// QueuePausedList implements store.QueueStore.
func (s *Store) QueuePausedList(ctx context.Context) ([]connecthub.PausedQueue, error) {
	return queryAll(ctx, s.r, func(sc scanner) (connecthub.PausedQueue, error) {
		var q connecthub.PausedQueue
		var at int64
		err := sc.Scan(&q.Name, &at, &q.PausedBy)
		q.PausedAt = fromMicros(at)
		return q, err
	}, `SELECT name, paused_at, paused_by FROM paused_queues ORDER BY name`)
}
