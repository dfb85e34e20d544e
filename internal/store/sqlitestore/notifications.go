package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func insertNotifications(ctx context.Context, tx *sqlx.Tx, ns []*connecthub.Notification) error {
	for _, n := range ns {
		alert, history, err := store.EncodeNotification(n)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (`+store.NotificationColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, NULL)`,
			n.ID, n.RuleID, n.Channel, n.Event, n.JobID, n.RunID, alert, history,
			micros(n.NextAttemptAt), micros(n.CreatedAt)); err != nil {
			return dbErr(err)
		}
	}
	return nil
}

// NotificationInsert implements store.AlertStore with store.InsertNotifications.
func (s *Store) NotificationInsert(ctx context.Context, ns []*connecthub.Notification) error {
	return store.InsertNotifications(s.inTx(ctx), &s.ids, ns, func(tx *sqlx.Tx, ns []*connecthub.Notification) error {
		return insertNotifications(ctx, tx, ns)
	})
}

// NotificationClaim implements store.AlertStore: the single writer makes
// the select and the lease one step.
func (s *Store) NotificationClaim(ctx context.Context, p store.NotificationClaimParams) ([]*connecthub.Notification, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	// Most polls find nothing due: a reader answers those, so an idle
	// sender never takes the only writer from the queue.
	var due int
	if err := s.r.GetContext(ctx, &due, `SELECT count(*) FROM (SELECT 1 FROM notifications
		WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1)`, micros(p.Now)); err != nil {
		return nil, dbErr(err)
	}
	if due == 0 {
		return []*connecthub.Notification{}, nil
	}
	var out []*connecthub.Notification
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = queryAll(ctx, tx, scanNotification, `UPDATE notifications SET lease_owner = ?1, lease_expires_at = ?2
			WHERE id IN (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?3
				AND (lease_expires_at IS NULL OR lease_expires_at <= ?3) ORDER BY next_attempt_at, id LIMIT ?4)
			RETURNING `+store.NotificationColumns, p.Owner, micros(p.Now.Add(p.LeaseTTL)), micros(p.Now), p.Max)
		return err
	})
	sortNotifications(out)
	return out, err
}

// NotificationRecord implements store.AlertStore.
func (s *Store) NotificationRecord(ctx context.Context, r store.NotificationResult) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	applied := false
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var history string
		err := tx.GetContext(ctx, &history, `SELECT history FROM notifications
			WHERE id = ? AND status = 'pending' AND lease_owner = ?`, r.ID, r.Owner)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return dbErr(err)
		}
		d, err := store.DecideDelivery([]byte(history), r)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE notifications SET status = ?, attempts = attempts + 1, history = ?,
			next_attempt_at = ?, sent_at = ?, lease_owner = '', lease_expires_at = NULL WHERE id = ?`,
			d.Status, d.History, micros(d.Next), nullMicros(d.SentAt), r.ID)
		applied = err == nil
		return dbErr(err)
	})
	return applied, err
}

// NotificationGet implements store.AlertStore.
func (s *Store) NotificationGet(ctx context.Context, id string) (*connecthub.Notification, error) {
	n, err := scanNotification(s.r.QueryRowContext(ctx, `SELECT `+store.NotificationColumns+` FROM notifications WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connecthub.NotFound("notification", id)
	}
	return n, dbErr(err)
}

// NotificationList implements store.AlertStore.
func (s *Store) NotificationList(ctx context.Context, f connecthub.NotificationFilter) ([]*connecthub.Notification, string, error) {
	return store.ListNotifications(dialect, f, func(tail string, args []any) ([]*connecthub.Notification, error) {
		return queryAll(ctx, s.r, scanNotification, `SELECT `+store.NotificationColumns+` FROM notifications`+tail, args...)
	})
}

func scanNotification(sc scanner) (*connecthub.Notification, error) {
	var (
		n              connecthub.Notification
		alert, history string
		next, created  int64
		sent           sql.NullInt64
	)
	if err := sc.Scan(&n.ID, &n.RuleID, &n.Channel, &n.Event, &n.JobID, &n.RunID, &alert, &n.Status, &n.Attempts,
		&history, &next, &created, &sent); err != nil {
		return nil, err
	}
	n.NextAttemptAt, n.CreatedAt, n.SentAt = fromMicros(next), fromMicros(created), timePtr(sent)
	return &n, store.DecodeNotification(&n, []byte(alert), []byte(history))
}

func sortNotifications(ns []*connecthub.Notification) {
	store.SortNotifications(ns)
}

// NotificationPrune implements store.AlertStore.
func (s *Store) NotificationPrune(ctx context.Context, before time.Time, limit int) (int64, error) {
	if err := store.CheckPrune(before, limit); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM notifications WHERE id IN (SELECT id FROM notifications
			WHERE status IN ('sent', 'failed') AND created_at < ? ORDER BY id LIMIT ?)`, micros(before), limit)
		if err != nil {
			return dbErr(err)
		}
		n, err = res.RowsAffected()
		return dbErr(err)
	})
	return n, err
}
