package sqlitestore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub/internal/store"
)

// KeyCheck implements store.SecretStore.
func (s *Store) KeyCheck(ctx context.Context) (string, error) {
	return metaGet(ctx, s.r, store.MetaKeyCheck)
}

// KeyCheckInit implements store.SecretStore. The insert and the read back
// are one write transaction, so the answer is the check that won.
func (s *Store) KeyCheckInit(ctx context.Context, token string) (string, error) {
	if err := store.CheckKeyCheck(token); err != nil {
		return "", err
	}
	var stored string
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING`,
			store.MetaKeyCheck, token); err != nil {
			return dbErr(err)
		}
		var err error
		stored, err = metaGet(ctx, tx, store.MetaKeyCheck)
		return err
	})
	return stored, err
}

// KeyCheckSet implements store.SecretStore.
func (s *Store) KeyCheckSet(ctx context.Context, token string) error {
	if err := store.CheckKeyCheck(token); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2`,
			store.MetaKeyCheck, token)
		return dbErr(err)
	})
}

// metaGet reads one meta row's value, "" when there is none.
func metaGet(ctx context.Context, q sqlx.QueryerContext, name string) (string, error) {
	var value string
	err := q.QueryRowxContext(ctx, `SELECT value FROM meta WHERE name = ?1`, name).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return value, dbErr(err)
}
