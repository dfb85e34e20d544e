package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// QueuePause implements store.QueueStore; ON CONFLICT DO NOTHING keeps
// the first pause.
func (s *Store) QueuePause(ctx context.Context, name, by string, now time.Time) (bool, error) {
	if err := store.CheckQueuePause(name, by, now); err != nil {
		return false, err
	}
	// One transaction, so that the audit entry of an audited pause
	// commits with it.
	return store.TxValue(s.inTx(ctx), func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `INSERT INTO paused_queues (name, paused_at, paused_by) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, utc(now), cleanText(by))
		return tag.RowsAffected() > 0, err
	})
}

// QueueResume implements store.QueueStore.
func (s *Store) QueueResume(ctx context.Context, name string) (bool, error) {
	if !storable(name) {
		return false, nil
	}
	return store.TxValue(s.inTx(ctx), func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM paused_queues WHERE name = $1`, name)
		return tag.RowsAffected() > 0, err
	})
}

// QueuePausedList implements store.QueueStore.
func (s *Store) QueuePausedList(ctx context.Context) ([]connecthub.PausedQueue, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT name, paused_at, paused_by FROM paused_queues ORDER BY name`)
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (connecthub.PausedQueue, error) {
		var q connecthub.PausedQueue
		err := row.Scan(&q.Name, &q.PausedAt, &q.PausedBy)
		q.PausedAt = utc(q.PausedAt)
		return q, err
	})
	if out == nil {
		out = []connecthub.PausedQueue{}
	}
	return out, dbErr(err)
}
