package sqlitestore

import (
	"context"
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
	var changed bool
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO paused_queues (name, paused_at, paused_by) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, micros(now), by)
		if err != nil {
			return dbErr(err)
		}
		n, err := res.RowsAffected()
		changed = n > 0
		return dbErr(err)
	})
	return changed, err
}

// QueueResume implements store.QueueStore.
func (s *Store) QueueResume(ctx context.Context, name string) (bool, error) {
	var changed bool
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM paused_queues WHERE name = ?`, name)
		if err != nil {
			return dbErr(err)
		}
		n, err := res.RowsAffected()
		changed = n > 0
		return dbErr(err)
	})
	return changed, err
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
