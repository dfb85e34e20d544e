package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub/internal/store"
)

// KeyCheck implements store.SecretStore.
func (s *Store) KeyCheck(ctx context.Context) (string, error) {
	db, err := s.db()
	if err != nil {
		return "", err
	}
	var value string
	err = db.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, store.MetaKeyCheck).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return value, dbErr(err)
}

// KeyCheckInit implements store.SecretStore. A start that loses the race
// finds no row returned by its insert (ON CONFLICT waits for the winner's
// commit), and its next statement, with a fresh snapshot, reads the
// winner's check.
func (s *Store) KeyCheckInit(ctx context.Context, token string) (string, error) {
	if err := store.CheckKeyCheck(token); err != nil {
		return "", err
	}
	db, err := s.db()
	if err != nil {
		return "", err
	}
	var stored string
	err = db.QueryRow(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value`,
		store.MetaKeyCheck, token).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.KeyCheck(ctx)
	}
	return stored, dbErr(err)
}

// KeyCheckSet implements store.SecretStore.
func (s *Store) KeyCheckSet(ctx context.Context, token string) error {
	if err := store.CheckKeyCheck(token); err != nil {
		return err
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
		store.MetaKeyCheck, token)
	return dbErr(err)
}
