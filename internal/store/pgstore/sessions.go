package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// SessionCreate implements store.SessionStore in one statement: the
// expired sessions are deleted in a CTE of the insert.
func (s *Store) SessionCreate(ctx context.Context, se *connecthub.Session) error {
	if err := store.CheckSession(se); err != nil {
		return err
	}
	for _, f := range []struct{ name, value string }{{"id", se.ID}, {"user", se.User}, {"hash", se.Hash}} {
		if !storable(f.value) {
			return connecthub.FieldError(f.name, "", "%s must be UTF-8 text without NUL characters", f.name)
		}
	}
	// The client address and the user agent are what the browser sent:
	// they are shown, never looked up, so they are stored cleaned rather
	// than refused.
	return s.conn(ctx, func(db execer) error {
		_, err := db.Exec(ctx, `WITH expired AS (DELETE FROM sessions WHERE expires_at <= $4)
			INSERT INTO sessions (`+store.SessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			se.ID, se.User, se.Hash, utc(se.CreatedAt), utc(se.LastSeenAt), utc(se.ExpiresAt), utcPtr(se.RevokedAt),
			cleanText(se.Client), cleanText(se.UserAgent), se.BreakGlass)
		if isCode(err, codeUniqueViolation) {
			return store.ErrSessionExists(err)
		}
		return dbErr(err)
	})
}

// SessionByHash implements store.SessionStore with one lookup in the
// hash's unique index.
func (s *Store) SessionByHash(ctx context.Context, hash string) (*connecthub.Session, error) {
	if !storable(hash) {
		return nil, store.ErrNoSessionHash()
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	se, err := scanSession(db.QueryRow(ctx, `SELECT `+store.SessionColumns+` FROM sessions WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNoSessionHash()
	}
	return se, dbErr(err)
}

// SessionList implements store.SessionStore.
func (s *Store) SessionList(ctx context.Context, now time.Time) ([]*connecthub.Session, error) {
	if err := store.CheckTime("now", now); err != nil {
		return nil, err
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT `+store.SessionColumns+` FROM sessions
		WHERE revoked_at IS NULL AND expires_at > $1 ORDER BY created_at DESC, id DESC`, utc(now))
	if err != nil {
		return nil, dbErr(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*connecthub.Session, error) { return scanSession(row) })
	if list == nil {
		list = []*connecthub.Session{}
	}
	return list, dbErr(err)
}

// SessionRevoke implements store.SessionStore in one statement; COALESCE
// keeps the first revocation time.
func (s *Store) SessionRevoke(ctx context.Context, id string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	if !storable(id) {
		return connecthub.NotFound("session", id)
	}
	return s.conn(ctx, func(db execer) error {
		tag, err := db.Exec(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, utc(now), id)
		return affectedOrNotFound(tag, err, "session", id)
	})
}

// SessionTouch implements store.SessionStore: one UPDATE whose condition
// makes it a plain index lookup, writing nothing, unless last_seen_at is
// stale.
func (s *Store) SessionTouch(ctx context.Context, id string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	return s.touchIfStale(ctx, "sessions", "last_seen_at", id, now, store.SessionTouchEvery)
}

// touchIfStale sets column of the row id in table to now when it is empty
// or older than every, the rule TokenTouch and SessionTouch share: one
// UPDATE whose condition makes it a plain index lookup, writing nothing,
// unless the stored time is stale. table and column are constants of this
// package, never input.
func (s *Store) touchIfStale(ctx context.Context, table, column, id string, now time.Time, every time.Duration) error {
	if !storable(id) {
		return nil // no such row
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `UPDATE `+table+` SET `+column+` = $1
		WHERE id = $2 AND (`+column+` IS NULL OR `+column+` <= $3)`,
		utc(now), id, utc(now.Add(-every)))
	return dbErr(err)
}

func scanSession(row pgx.Row) (*connecthub.Session, error) {
	var se connecthub.Session
	if err := row.Scan(&se.ID, &se.User, &se.Hash, &se.CreatedAt, &se.LastSeenAt, &se.ExpiresAt, &se.RevokedAt,
		&se.Client, &se.UserAgent, &se.BreakGlass); err != nil {
		return nil, err
	}
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt = utc(se.CreatedAt), utc(se.LastSeenAt), utc(se.ExpiresAt)
	se.RevokedAt = utcPtr(se.RevokedAt)
	return &se, nil
}
