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

// TokenCreate implements store.TokenStore.
func (s *Store) TokenCreate(ctx context.Context, t *connecthub.Token) error {
	row, err := store.PrepareToken(t)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (`+store.TokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.Scope, t.Hash, micros(t.CreatedAt), nullMicros(t.LastUsedAt), nullMicros(t.RevokedAt),
			row.NodePrefix, row.Queues, t.Owner)
		if isUniqueViolation(err) {
			return store.ErrTokenExists(err)
		}
		return dbErr(err)
	})
}

// TokenByHash implements store.TokenStore with one lookup in the hash's
// unique index, on the reader pool.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*connecthub.Token, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+store.TokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNoTokenHash()
	}
	return t, dbErr(err)
}

// TokenList implements store.TokenStore.
func (s *Store) TokenList(ctx context.Context) ([]*connecthub.Token, error) {
	return queryAll(ctx, s.r, scanToken, `SELECT `+store.TokenColumns+` FROM tokens ORDER BY created_at DESC, id DESC`)
}

// TokenRevoke implements store.TokenStore in one statement: the id is
// looked for first, then the name, and COALESCE keeps the first revocation
// time of a token revoked before.
func (s *Store) TokenRevoke(ctx context.Context, idOrName string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?1)
			WHERE id = COALESCE((SELECT id FROM tokens WHERE id = ?2), (SELECT id FROM tokens WHERE name = ?2))`,
			micros(now), idOrName)
		return affectedOrNotFound(res, err, "token", idOrName)
	})
}

// TokenTouch implements store.TokenStore. It is called on every request
// that carries a token, so it first asks a reader whether a write is due:
// most calls then end there, without taking the only writer connection
// from the queue's claims and completions. The write itself is guarded by
// the same condition, for the race between two requests.
func (s *Store) TokenTouch(ctx context.Context, id string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	return s.touchIfStale(ctx, "tokens", "last_used_at", id, now, store.TokenTouchEvery)
}

func scanToken(sc scanner) (*connecthub.Token, error) {
	var (
		t                connecthub.Token
		created          int64
		lastUsed, revoke sql.NullInt64
		queues           string
	)
	if err := sc.Scan(&t.ID, &t.Name, &t.Scope, &t.Hash, &created, &lastUsed, &revoke, &t.NodePrefix, &queues, &t.Owner); err != nil {
		return nil, err
	}
	if err := store.DecodeTokenQueues(&t, []byte(queues)); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	t.LastUsedAt = timePtr(lastUsed)
	t.RevokedAt = timePtr(revoke)
	return &t, nil
}
