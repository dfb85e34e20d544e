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
func (s *Store) OIDCSignIn(ctx context.Context, in store.OIDCSignIn, now time.Time, fn func(before, after *connecthub.User, linked bool)) (*connecthub.User, error) {
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
			linkNow  bool
		)
		err := tx.QueryRow(ctx, `SELECT username FROM oidc_identities WHERE issuer = $1 AND subject = $2`,
			in.Issuer, in.Subject).Scan(&username)
		if errors.Is(err, pgx.ErrNoRows) {
			// No account is linked yet: a local user of the name may carry
			// the mark that lets this sign-in link to it. The row lock
			// makes two sign-ins racing for one mark take it in turn.
			err = tx.QueryRow(ctx, `SELECT username FROM oidc_identities WHERE issuer = $1 AND subject = $2 FOR UPDATE`,
				store.OIDCLinkIssuer, in.Username).Scan(&username)
			linkNow = err == nil
		}
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
		if linkNow {
			tag, err := tx.Exec(ctx, `DELETE FROM oidc_identities WHERE issuer = $1 AND subject = $2`, store.OIDCLinkIssuer, after.Username)
			if err != nil {
				return dbErr(err)
			}
			if tag.RowsAffected() != 1 {
				// Another sign-in took the mark between the read and now.
				return store.ErrUserExists(after.Username, nil)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO oidc_identities (issuer, subject, username, created_at) VALUES ($1, $2, $3, $4)`,
				in.Issuer, in.Subject, after.Username, utc(*after.LastLoginAt)); err != nil {
				if isCode(err, codeUniqueViolation) {
					return store.ErrUserExists(after.Username, err)
				}
				return dbErr(err)
			}
		}
		if fn != nil {
			fn(linked, after, linkNow)
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

// OIDCAllowLink implements store.OIDCLinkStore, holding the user's row
// locked so that a sign-in cannot link between the read and the write.
func (s *Store) OIDCAllowLink(ctx context.Context, username string, allow bool, now time.Time) (bool, error) {
	if err := store.CheckTime("now", now); err != nil {
		return false, err
	}
	if !storable(username) {
		return false, connecthub.NotFound("user", username)
	}
	changed := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `SELECT username FROM users WHERE username = $1 FOR UPDATE`, username).Scan(&name)
		if errors.Is(err, pgx.ErrNoRows) {
			return connecthub.NotFound("user", username)
		}
		if err != nil {
			return dbErr(err)
		}
		var issuer string
		err = tx.QueryRow(ctx, `SELECT issuer FROM oidc_identities WHERE username = $1`, username).Scan(&issuer)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return dbErr(err)
		}
		op, err := store.DecideOIDCAllowLink(username, issuer, err == nil, allow)
		if err != nil || op == store.OIDCLinkKeep {
			return err
		}
		if op == store.OIDCLinkInsert {
			_, err = tx.Exec(ctx, `INSERT INTO oidc_identities (issuer, subject, username, created_at) VALUES ($1, $2, $3, $4)`,
				store.OIDCLinkIssuer, username, username, utc(now.UTC().Truncate(time.Microsecond)))
			if isCode(err, codeUniqueViolation) {
				return store.ErrOIDCAlreadyLinked(username)
			}
		} else {
			_, err = tx.Exec(ctx, `DELETE FROM oidc_identities WHERE issuer = $1 AND subject = $2`, store.OIDCLinkIssuer, username)
		}
		if err != nil {
			return dbErr(err)
		}
		changed = true
		return nil
	})
	return changed, err
}
