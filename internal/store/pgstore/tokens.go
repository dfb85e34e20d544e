package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// TokenCreate implements store.TokenStore.
func (s *Store) TokenCreate(ctx context.Context, t *connecthub.Token) error {
	row, err := checkToken(t)
	if err != nil {
		return err
	}
	return s.conn(ctx, func(db execer) error {
		_, err := db.Exec(ctx, `INSERT INTO tokens (`+store.TokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			t.ID, t.Name, t.Scope, t.Hash, utc(t.CreatedAt), utcPtr(t.LastUsedAt), utcPtr(t.RevokedAt),
			row.NodePrefix, row.Queues, t.Owner)
		if isCode(err, codeUniqueViolation) {
			return store.ErrTokenExists(err)
		}
		return dbErr(err)
	})
}

// TokenByHash implements store.TokenStore with one lookup in the hash's
// unique index.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*connecthub.Token, error) {
	if !storable(hash) {
		return nil, store.ErrNoTokenHash()
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	t, err := scanToken(db.QueryRow(ctx, `SELECT `+store.TokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNoTokenHash()
	}
	return t, dbErr(err)
}

// TokenList implements store.TokenStore.
func (s *Store) TokenList(ctx context.Context) ([]*connecthub.Token, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT `+store.TokenColumns+` FROM tokens ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	tokens := []*connecthub.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		tokens = append(tokens, t)
	}
	return tokens, dbErr(rows.Err())
}

// TokenRevoke implements store.TokenStore in one statement: the id is
// looked for first, then the name, and COALESCE keeps the first revocation
// time of a token revoked before.
func (s *Store) TokenRevoke(ctx context.Context, idOrName string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	if !storable(idOrName) {
		return connecthub.NotFound("token", idOrName)
	}
	return s.conn(ctx, func(db execer) error {
		tag, err := db.Exec(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1)
			WHERE id = COALESCE((SELECT id FROM tokens WHERE id = $2), (SELECT id FROM tokens WHERE name = $2))`,
			utc(now), idOrName)
		return affectedOrNotFound(tag, err, "token", idOrName)
	})
}

// TokenTouch implements store.TokenStore. It is called on every request
// that carries a token, so it is one UPDATE whose condition makes it a
// plain index lookup, writing nothing, unless last_used_at is stale.
func (s *Store) TokenTouch(ctx context.Context, id string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	return s.touchIfStale(ctx, "tokens", "last_used_at", id, now, store.TokenTouchEvery)
}

// checkToken rejects a token the store must not keep: the contract's
// checks, then text PostgreSQL cannot store.
func checkToken(t *connecthub.Token) (store.TokenRow, error) {
	row, err := store.PrepareToken(t)
	if err != nil {
		return row, err
	}
	for _, f := range []struct{ name, value string }{{"id", t.ID}, {"name", t.Name}, {"hash", t.Hash}, {"owner", t.Owner}} {
		if !storable(f.value) {
			return row, connecthub.FieldError(f.name, "", "%s must be UTF-8 text without NUL characters", f.name)
		}
	}
	return row, nil
}

func scanToken(row pgx.Row) (*connecthub.Token, error) {
	var (
		t      connecthub.Token
		queues []byte
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Scope, &t.Hash, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt, &t.NodePrefix, &queues, &t.Owner); err != nil {
		return nil, err
	}
	if err := store.DecodeTokenQueues(&t, queues); err != nil {
		return nil, err
	}
	t.CreatedAt = utc(t.CreatedAt)
	t.LastUsedAt = utcPtr(t.LastUsedAt)
	t.RevokedAt = utcPtr(t.RevokedAt)
	return &t, nil
}
