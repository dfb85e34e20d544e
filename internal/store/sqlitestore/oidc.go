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

// OIDCSignIn implements store.OIDCStore in one write transaction.
func (s *Store) OIDCSignIn(ctx context.Context, in store.OIDCSignIn, now time.Time, fn func(before, after *connecthub.User, linked bool)) (*connecthub.User, error) {
	if err := store.CheckOIDCSignIn(in); err != nil {
		return nil, err
	}
	var out *connecthub.User
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var (
			linked   *connecthub.User
			username string
			linkNow  bool
		)
		err := tx.QueryRowContext(ctx, `SELECT username FROM oidc_identities WHERE issuer = ? AND subject = ?`,
			in.Issuer, in.Subject).Scan(&username)
		if errors.Is(err, sql.ErrNoRows) {
			// No account is linked yet: a local user of the name may carry
			// the mark that lets this sign-in link to it.
			err = tx.QueryRowContext(ctx, `SELECT username FROM oidc_identities WHERE issuer = ? AND subject = ?`,
				store.OIDCLinkIssuer, in.Username).Scan(&username)
			linkNow = err == nil
		}
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return dbErr(err)
		default:
			if linked, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username)); err != nil {
				return dbErr(err)
			}
		}
		after, err := store.DecideOIDCSignIn(linked, in, now)
		if err != nil {
			return err
		}
		if linked == nil {
			_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				after.Username, after.DisplayName, string(after.Role), boolInt(after.Disabled), after.PasswordHash,
				micros(after.CreatedAt), micros(after.UpdatedAt), nullMicros(after.LastLoginAt))
			if isUniqueViolation(err) {
				return store.ErrUserExists(after.Username, err)
			}
			if err != nil {
				return dbErr(err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO oidc_identities (issuer, subject, username, created_at) VALUES (?, ?, ?, ?)`,
				in.Issuer, in.Subject, after.Username, micros(after.CreatedAt)); err != nil {
				return dbErr(err)
			}
		} else if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ?, last_login_at = ? WHERE username = ?`,
			string(after.Role), micros(after.UpdatedAt), nullMicros(after.LastLoginAt), after.Username); err != nil {
			return dbErr(err)
		}
		if linkNow {
			if _, err := tx.ExecContext(ctx, `DELETE FROM oidc_identities WHERE issuer = ? AND subject = ?`, store.OIDCLinkIssuer, after.Username); err != nil {
				return dbErr(err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO oidc_identities (issuer, subject, username, created_at) VALUES (?, ?, ?, ?)`,
				in.Issuer, in.Subject, after.Username, micros(*after.LastLoginAt)); err != nil {
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
	return queryAll(ctx, s.r, func(sc scanner) (*connecthub.OIDCIdentity, error) {
		var (
			id      connecthub.OIDCIdentity
			created int64
		)
		if err := sc.Scan(&id.Issuer, &id.Subject, &id.Username, &created); err != nil {
			return nil, err
		}
		id.CreatedAt = fromMicros(created)
		return &id, nil
	}, `SELECT issuer, subject, username, created_at FROM oidc_identities WHERE username = ? ORDER BY created_at, issuer, subject`, username)
}

// OIDCAllowLink implements store.OIDCLinkStore.
func (s *Store) OIDCAllowLink(ctx context.Context, username string, allow bool, now time.Time) (bool, error) {
	if err := store.CheckTime("now", now); err != nil {
		return false, err
	}
	changed := false
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE username = ?`, username).Scan(&n); err != nil {
			return dbErr(err)
		}
		if n == 0 {
			return connecthub.NotFound("user", username)
		}
		var issuer string
		err := tx.QueryRowContext(ctx, `SELECT issuer FROM oidc_identities WHERE username = ?`, username).Scan(&issuer)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return dbErr(err)
		}
		op, err := store.DecideOIDCAllowLink(username, issuer, err == nil, allow)
		switch {
		case err != nil || op == store.OIDCLinkKeep:
			return err
		case op == store.OIDCLinkInsert:
			_, err = tx.ExecContext(ctx, `INSERT INTO oidc_identities (issuer, subject, username, created_at) VALUES (?, ?, ?, ?)`,
				store.OIDCLinkIssuer, username, username, micros(now.UTC().Truncate(time.Microsecond)))
		default:
			_, err = tx.ExecContext(ctx, `DELETE FROM oidc_identities WHERE issuer = ? AND subject = ?`, store.OIDCLinkIssuer, username)
		}
		if err != nil {
			return dbErr(err)
		}
		changed = true
		return nil
	})
	return changed, err
}
