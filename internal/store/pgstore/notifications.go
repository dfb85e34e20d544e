package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func insertNotifications(ctx context.Context, tx pgx.Tx, ns []*connecthub.Notification) error {
	for _, n := range ns {
		alert, history, err := store.EncodeNotification(n)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notifications (`+store.NotificationColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, $10, NULL)`,
			n.ID, n.RuleID, cleanText(n.Channel), n.Event, cleanText(n.JobID), n.RunID, cleanText(alert), history,
			utc(n.NextAttemptAt), utc(n.CreatedAt)); err != nil {
			return dbErr(err)
		}
	}
	return nil
}

// NotificationInsert implements store.AlertStore with store.InsertNotifications.
func (s *Store) NotificationInsert(ctx context.Context, ns []*connecthub.Notification) error {
	return store.InsertNotifications(s.inTx(ctx), &s.ids, ns, func(tx pgx.Tx, ns []*connecthub.Notification) error {
		return insertNotifications(ctx, tx, ns)
	})
}

// NotificationClaim implements store.AlertStore in one statement: SKIP
// LOCKED lets replicas claim side by side without ever taking the same
// row, as the runs queue does.
func (s *Store) NotificationClaim(ctx context.Context, p store.NotificationClaimParams) ([]*connecthub.Notification, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if !storable(p.Owner) {
		return nil, connecthub.FieldError("owner", "", "owner must be valid UTF-8 without NUL bytes")
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	out, err := queryList(ctx, db, scanNotification, `UPDATE notifications SET lease_owner = $1, lease_expires_at = $2
		WHERE id IN (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $3
			AND (lease_expires_at IS NULL OR lease_expires_at <= $3) ORDER BY next_attempt_at, id LIMIT $4
			FOR UPDATE SKIP LOCKED)
		RETURNING `+store.NotificationColumns, p.Owner, utc(p.Now.Add(p.LeaseTTL)), utc(p.Now), p.Max)
	store.SortNotifications(out)
	return out, err
}

// NotificationRecord implements store.AlertStore.
func (s *Store) NotificationRecord(ctx context.Context, r store.NotificationResult) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	if !storable(r.ID) || !storable(r.Owner) {
		return false, nil
	}
	r.Attempt.Response = cleanText(r.Attempt.Response)
	applied := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var history []byte
		err := tx.QueryRow(ctx, `SELECT history FROM notifications
			WHERE id = $1 AND status = 'pending' AND lease_owner = $2 FOR UPDATE`, r.ID, r.Owner).Scan(&history)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return dbErr(err)
		}
		d, err := store.DecideDelivery(history, r)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE notifications SET status = $1, attempts = attempts + 1, history = $2,
			next_attempt_at = $3, sent_at = $4, lease_owner = '', lease_expires_at = NULL WHERE id = $5`,
			d.Status, d.History, utc(d.Next), utcPtr(d.SentAt), r.ID)
		applied = err == nil
		return dbErr(err)
	})
	return applied, err
}

// NotificationGet implements store.AlertStore.
func (s *Store) NotificationGet(ctx context.Context, id string) (*connecthub.Notification, error) {
	if !storable(id) {
		return nil, connecthub.NotFound("notification", id)
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	n, err := scanNotification(db.QueryRow(ctx, `SELECT `+store.NotificationColumns+` FROM notifications WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, connecthub.NotFound("notification", id)
	}
	return n, dbErr(err)
}

// NotificationList implements store.AlertStore.
func (s *Store) NotificationList(ctx context.Context, f connecthub.NotificationFilter) ([]*connecthub.Notification, string, error) {
	return store.ListNotifications(dialect, f, func(tail string, args []any) ([]*connecthub.Notification, error) {
		return poolList(ctx, s, scanNotification, `SELECT `+store.NotificationColumns+` FROM notifications`+tail, args...)
	})
}

func scanNotification(row pgx.Row) (*connecthub.Notification, error) {
	var (
		n              connecthub.Notification
		alert, history []byte
		sent           *time.Time
	)
	if err := row.Scan(&n.ID, &n.RuleID, &n.Channel, &n.Event, &n.JobID, &n.RunID, &alert, &n.Status, &n.Attempts,
		&history, &n.NextAttemptAt, &n.CreatedAt, &sent); err != nil {
		return nil, err
	}
	n.NextAttemptAt, n.CreatedAt, n.SentAt = n.NextAttemptAt.UTC(), n.CreatedAt.UTC(), utcPtr(sent)
	return &n, store.DecodeNotification(&n, alert, history)
}

// NotificationPrune implements store.AlertStore.
func (s *Store) NotificationPrune(ctx context.Context, before time.Time, limit int) (int64, error) {
	if err := store.CheckPrune(before, limit); err != nil {
		return 0, err
	}
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	tag, err := db.Exec(ctx, `DELETE FROM notifications WHERE id IN (SELECT id FROM notifications
		WHERE status IN ('sent', 'failed') AND created_at < $1 ORDER BY id LIMIT $2)`, utc(before), limit)
	if err != nil {
		return 0, dbErr(err)
	}
	return tag.RowsAffected(), nil
}
