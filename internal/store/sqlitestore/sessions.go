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

// SessionCreate implements store.SessionStore: the expired sessions are
// deleted and the new one inserted in one write transaction.
func (s *Store) SessionCreate(ctx context.Context, se *connecthub.Session) error {
	if err := store.CheckSession(se); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, micros(se.CreatedAt)); err != nil {
			return dbErr(err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+store.SessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			se.ID, se.User, se.Hash, micros(se.CreatedAt), micros(se.LastSeenAt), micros(se.ExpiresAt),
			nullMicros(se.RevokedAt), se.Client, se.UserAgent, boolInt(se.BreakGlass))
		if isUniqueViolation(err) {
			return store.ErrSessionExists(err)
		}
		return dbErr(err)
	})
}

// SessionByHash implements store.SessionStore with one lookup in the
// hash's unique index, on the reader pool.
func (s *Store) SessionByHash(ctx context.Context, hash string) (*connecthub.Session, error) {
	se, err := scanSession(s.r.QueryRowContext(ctx, `SELECT `+store.SessionColumns+` FROM sessions WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNoSessionHash()
	}
	return se, dbErr(err)
}

// SessionList implements store.SessionStore.
func (s *Store) SessionList(ctx context.Context, now time.Time) ([]*connecthub.Session, error) {
	if err := store.CheckTime("now", now); err != nil {
		return nil, err
	}
	return queryAll(ctx, s.r, scanSession, `SELECT `+store.SessionColumns+` FROM sessions
		WHERE revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id DESC`, micros(now))
}

// queryAll runs a query on db and scans every row with scan; the slice is
// empty, never nil, when there is no row.
func queryAll[T any](ctx context.Context, db sqlx.QueryerContext, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, v)
	}
	return out, dbErr(rows.Err())
}

// SessionRevoke implements store.SessionStore in one statement; COALESCE
// keeps the first revocation time.
func (s *Store) SessionRevoke(ctx context.Context, id string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, micros(now), id)
		return affectedOrNotFound(res, err, "session", id)
	})
}

// affectedOrNotFound turns the result of a statement that must change a
// row into nil, the database error, or KindNotFound naming what and id.
func affectedOrNotFound(res sql.Result, err error, what, id string) error {
	if err != nil {
		return dbErr(err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return dbErr(err)
	case n == 0:
		return connecthub.NotFound(what, id)
	}
	return nil
}

// SessionTouch implements store.SessionStore like TokenTouch: a reader
// first asks whether a write is due, so that most requests never take the
// writer connection.
func (s *Store) SessionTouch(ctx context.Context, id string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	return s.touchIfStale(ctx, "sessions", "last_seen_at", id, now, store.SessionTouchEvery)
}

func scanSession(sc scanner) (*connecthub.Session, error) {
	var (
		se                     connecthub.Session
		created, seen, expires int64
		revoked                sql.NullInt64
		breakGlass             int64
	)
	if err := sc.Scan(&se.ID, &se.User, &se.Hash, &created, &seen, &expires, &revoked, &se.Client, &se.UserAgent, &breakGlass); err != nil {
		return nil, err
	}
	se.BreakGlass = breakGlass != 0
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	se.RevokedAt = timePtr(revoked)
	return &se, nil
}

// touchIfStale sets column of the row id in table to now when it is empty
// or older than every, the rule TokenTouch and SessionTouch share: they run
// on every authenticated request, so a reader first asks whether a write is
// due, and most calls end there without taking the only writer connection.
// table and column are constants of this package, never input.
func (s *Store) touchIfStale(ctx context.Context, table, column, id string, now time.Time, every time.Duration) error {
	stale := micros(now.Add(-every))
	due := `id = ?1 AND (` + column + ` IS NULL OR ` + column + ` <= ?2)`
	var one int
	switch err := s.r.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE `+due, id, stale).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return nil // recent enough, or no such row
	case err != nil:
		return dbErr(err)
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE `+table+` SET `+column+` = ?3 WHERE `+due, id, stale, micros(now))
		return dbErr(err)
	})
}
