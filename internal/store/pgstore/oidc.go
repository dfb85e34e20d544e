package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// oidcTx is store.OIDCTx on a transaction.
type oidcTx struct {
	ctx context.Context
	tx  pgx.Tx
}

func (o oidcTx) IdentityUser(issuer, subject string, lock bool) (string, error) {
	q := `SELECT username FROM oidc_identities WHERE issuer = $1 AND subject = $2`
	if lock {
		q += ` FOR UPDATE`
	}
	var username string
	err := o.tx.QueryRow(o.ctx, q, issuer, subject).Scan(&username)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return username, dbErr(err)
}

func (o oidcTx) UserIssuer(username string) (string, error) {
	var issuer string
	err := o.tx.QueryRow(o.ctx, `SELECT issuer FROM oidc_identities WHERE username = $1`, username).Scan(&issuer)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return issuer, dbErr(err)
}

func (o oidcTx) User(username string) (*connecthub.User, error) {
	if !storable(username) {
		return nil, connecthub.NotFound("user", username)
	}
	u, err := scanUser(o.tx.QueryRow(o.ctx, `SELECT `+store.UserColumns+` FROM users WHERE username = $1 FOR UPDATE`, username))
	return u, notFound(err, "user", username)
}

func (o oidcTx) CreateUser(u *connecthub.User) error {
	_, err := o.tx.Exec(o.ctx, `INSERT INTO users (`+store.UserColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.Username, u.DisplayName, string(u.Role), u.Disabled, u.PasswordHash,
		utc(u.CreatedAt), utc(u.UpdatedAt), utcPtr(u.LastLoginAt))
	if isCode(err, codeUniqueViolation) {
		return store.ErrUserExists(u.Username, err)
	}
	return dbErr(err)
}

func (o oidcTx) UpdateSignIn(u *connecthub.User) error {
	_, err := o.tx.Exec(o.ctx, `UPDATE users SET role = $1, updated_at = $2, last_login_at = $3 WHERE username = $4`,
		string(u.Role), utc(u.UpdatedAt), utcPtr(u.LastLoginAt), u.Username)
	return dbErr(err)
}

func (o oidcTx) InsertIdentity(issuer, subject, username string, at time.Time) error {
	_, err := o.tx.Exec(o.ctx, `INSERT INTO oidc_identities (issuer, subject, username, created_at) VALUES ($1, $2, $3, $4)`,
		issuer, subject, username, utc(at))
	return dbErr(err)
}

func (o oidcTx) DeleteIdentity(issuer, subject string) (bool, error) {
	tag, err := o.tx.Exec(o.ctx, `DELETE FROM oidc_identities WHERE issuer = $1 AND subject = $2`, issuer, subject)
	return tag.RowsAffected() == 1, dbErr(err)
}

// OIDCSignIn implements store.OIDCStore with store.SignInOIDC, in one
// transaction that holds the linked user's row locked from the read to the
// write.
func (s *Store) OIDCSignIn(ctx context.Context, in store.OIDCSignIn, now time.Time, fn func(before, after *connecthub.User, linked bool)) (*connecthub.User, error) {
	if err := store.CheckOIDCSignIn(in); err != nil {
		return nil, err
	}
	if !storable(in.Issuer) || !storable(in.Subject) || !storable(in.DisplayName) {
		return nil, connecthub.FieldError("subject", "", "issuer, subject and name must be UTF-8 text without NUL characters")
	}
	return store.TxValue(s.inTx(ctx), func(tx pgx.Tx) (*connecthub.User, error) {
		return store.SignInOIDC(oidcTx{ctx, tx}, in, now, fn)
	})
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

// OIDCAllowLink implements store.OIDCLinkStore with store.AllowOIDCLink,
// holding the user's row locked so that a sign-in cannot link between the
// read and the write.
func (s *Store) OIDCAllowLink(ctx context.Context, username string, allow bool, now time.Time) (bool, error) {
	return store.TxValue(s.inTx(ctx), func(tx pgx.Tx) (bool, error) {
		return store.AllowOIDCLink(oidcTx{ctx, tx}, username, allow, now)
	})
}

// OIDCLinkMarks implements store.OIDCLinkStore through the identities'
// primary key (issuer first).
func (s *Store) OIDCLinkMarks(ctx context.Context) (map[string]bool, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT username FROM oidc_identities WHERE issuer = $1`, store.OIDCLinkIssuer)
	if err != nil {
		return nil, dbErr(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, dbErr(err)
	}
	return store.LinkMarks(names), nil
}
