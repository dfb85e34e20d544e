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

// oidcTx is store.OIDCTx on the write transaction, which the single
// writer makes exclusive: there is nothing to lock.
type oidcTx struct {
	ctx context.Context
	tx  *sqlx.Tx
}

func (o oidcTx) IdentityUser(issuer, subject string, _ bool) (string, error) {
	var username string
	err := o.tx.QueryRowContext(o.ctx, `SELECT username FROM oidc_identities WHERE issuer = ? AND subject = ?`,
		issuer, subject).Scan(&username)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return username, dbErr(err)
}

func (o oidcTx) UserIssuer(username string) (string, error) {
	var issuer string
	err := o.tx.QueryRowContext(o.ctx, `SELECT issuer FROM oidc_identities WHERE username = ?`, username).Scan(&issuer)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return issuer, dbErr(err)
}

func (o oidcTx) User(username string) (*connecthub.User, error) {
	u, err := scanUser(o.tx.QueryRowContext(o.ctx, `SELECT `+store.UserColumns+` FROM users WHERE username = ?`, username))
	return u, notFound(err, "user", username)
}

func (o oidcTx) CreateUser(u *connecthub.User) error {
	_, err := o.tx.ExecContext(o.ctx, `INSERT INTO users (`+store.UserColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Username, u.DisplayName, string(u.Role), boolInt(u.Disabled), u.PasswordHash,
		micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.LastLoginAt))
	if isUniqueViolation(err) {
		return store.ErrUserExists(u.Username, err)
	}
	return dbErr(err)
}

func (o oidcTx) UpdateSignIn(u *connecthub.User) error {
	_, err := o.tx.ExecContext(o.ctx, `UPDATE users SET role = ?, updated_at = ?, last_login_at = ? WHERE username = ?`,
		string(u.Role), micros(u.UpdatedAt), nullMicros(u.LastLoginAt), u.Username)
	return dbErr(err)
}

func (o oidcTx) InsertIdentity(issuer, subject, username string, at time.Time) error {
	_, err := o.tx.ExecContext(o.ctx, `INSERT INTO oidc_identities (issuer, subject, username, created_at) VALUES (?, ?, ?, ?)`,
		issuer, subject, username, micros(at))
	return dbErr(err)
}

func (o oidcTx) DeleteIdentity(issuer, subject string) (bool, error) {
	res, err := o.tx.ExecContext(o.ctx, `DELETE FROM oidc_identities WHERE issuer = ? AND subject = ?`, issuer, subject)
	if err != nil {
		return false, dbErr(err)
	}
	n, err := res.RowsAffected()
	return n == 1, dbErr(err)
}

// OIDCSignIn implements store.OIDCStore with store.SignInOIDC, in one write
// transaction.
func (s *Store) OIDCSignIn(ctx context.Context, in store.OIDCSignIn, now time.Time, fn func(before, after *connecthub.User, linked bool)) (*connecthub.User, error) {
	if err := store.CheckOIDCSignIn(in); err != nil {
		return nil, err
	}
	return store.TxValue(s.inTx(ctx), func(tx *sqlx.Tx) (*connecthub.User, error) {
		return store.SignInOIDC(oidcTx{ctx, tx}, in, now, fn)
	})
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

// OIDCAllowLink implements store.OIDCLinkStore with store.AllowOIDCLink.
func (s *Store) OIDCAllowLink(ctx context.Context, username string, allow bool, now time.Time) (bool, error) {
	return store.TxValue(s.inTx(ctx), func(tx *sqlx.Tx) (bool, error) {
		return store.AllowOIDCLink(oidcTx{ctx, tx}, username, allow, now)
	})
}

// OIDCLinkMarks implements store.OIDCLinkStore through the identities'
// primary key (issuer first).
func (s *Store) OIDCLinkMarks(ctx context.Context) (map[string]bool, error) {
	var names []string
	if err := s.r.SelectContext(ctx, &names, `SELECT username FROM oidc_identities WHERE issuer = ?`, store.OIDCLinkIssuer); err != nil {
		return nil, dbErr(err)
	}
	return store.LinkMarks(names), nil
}
