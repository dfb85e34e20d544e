package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// OIDCSignIn implements store.OIDCStore in one transaction that holds the
// linked user's row locked from the read to the write.
func (s *Store) OIDCSignIn(ctx context.Context, in store.OIDCSignIn, now time.Time, fn func(before, after *connecthub.User)) (*connecthub.User, error) {
	if err := store.CheckOIDCSignIn(in); err != nil {
		return nil, err
	}
	if !storable(in.Issuer) || !storable(in.Subject) || !storable(in.DisplayName) {
		return nil, connecthub.FieldError("subject", "", "issuer, subject and name must be UTF-8 text without NUL characters")
	}
	var out *connecthub.User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var (
			linked   *connecthub.User
			username string
		)
		err := tx.QueryRow(ctx, `SELECT username FROM oidc_identities WHERE issuer = $1 AND subject = $2`,
			in.Issuer, in.Subject).Scan(&username)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return dbErr(err)
		default:
			if linked, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1 FOR UPDATE`, username)); err != nil {
				return dbErr(err)
			}
		}
		after, err := store.DecideOIDCSignIn(linked, in, now)
		if err != nil {
			return err
		}
		if linked == nil {
			_, err := tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				after.Username, after.DisplayName, string(after.Role), after.Disabled, after.PasswordHash,
				utc(after.CreatedAt), utc(after.UpdatedAt), utcPtr(after.LastLoginAt))
			if isCode(err, codeUniqueViolation) {
				return store.ErrUserExists(after.Username, err)
			}
			if err != nil {
				return dbErr(err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO oidc_identities (issuer, subject, username, created_at) VALUES ($1, $2, $3, $4)`,
				in.Issuer, in.Subject, after.Username, utc(after.CreatedAt)); err != nil {
				return dbErr(err)
			}
		} else if _, err := tx.Exec(ctx, `UPDATE users SET role = $1, updated_at = $2, last_login_at = $3 WHERE username = $4`,
			string(after.Role), utc(after.UpdatedAt), utcPtr(after.LastLoginAt), after.Username); err != nil {
			return dbErr(err)
		}
		if fn != nil {
			fn(linked, after)
		}
		out = after
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// OIDCIdentities implements store.OIDCStore.
func (s *Store) OIDCIdentities(ctx context.Context, username string) ([]*connecthub.OIDCIdentity, error) {
	if !storable(username) {
		return []*connecthub.OIDCIdentity{}, nil
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT issuer, subject, username, created_at FROM oidc_identities
		WHERE username = $1 ORDER BY created_at, issuer, subject`, username)
	if err != nil {
		return nil, dbErr(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*connecthub.OIDCIdentity, error) {
		var id connecthub.OIDCIdentity
		err := row.Scan(&id.Issuer, &id.Subject, &id.Username, &id.CreatedAt)
		id.CreatedAt = id.CreatedAt.UTC()
		return &id, err
	})
	if list == nil {
		list = []*connecthub.OIDCIdentity{}
	}
	return list, dbErr(err)
}
