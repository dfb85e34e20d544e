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

// UserCreate implements store.UserStore.
func (s *Store) UserCreate(ctx context.Context, u *connecthub.User) error {
	if err := store.CheckUser(u); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (`+store.UserColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.Username, u.DisplayName, string(u.Role), boolInt(u.Disabled), u.PasswordHash,
			micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.LastLoginAt))
		if isUniqueViolation(err) {
			return store.ErrUserExists(u.Username, err)
		}
		return dbErr(err)
	})
}

// UserGet implements store.UserStore with one primary-key lookup on the
// reader pool: it runs on every request a session or a personal token
// makes, so that a role change or a disable holds at once.
func (s *Store) UserGet(ctx context.Context, username string) (*connecthub.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+store.UserColumns+` FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connecthub.NotFound("user", username)
	}
	return u, dbErr(err)
}

// UserList implements store.UserStore.
func (s *Store) UserList(ctx context.Context) ([]*connecthub.User, error) {
	return queryAll(ctx, s.r, scanUser, `SELECT `+store.UserColumns+` FROM users ORDER BY username`)
}

// UserUpdate implements store.UserStore with store.UpdateUser, in one
// write transaction.
func (s *Store) UserUpdate(ctx context.Context, username string, now time.Time, fn func(*connecthub.User) error) (*connecthub.User, error) {
	return s.userUpdate(ctx, username, now, fn, nil)
}

// UserUpdateLink implements store.OIDCLinkStore with store.UpdateUser and
// the identities of the link mark, in UserUpdate's transaction.
func (s *Store) UserUpdateLink(ctx context.Context, username string, now time.Time, fn func(*connecthub.User) error) (*connecthub.User, error) {
	return s.userUpdate(ctx, username, now, fn, func(tx *sqlx.Tx) store.OIDCTx { return oidcTx{ctx, tx} })
}

// userUpdate is UserUpdate, and with link UserUpdateLink.
func (s *Store) userUpdate(ctx context.Context, username string, now time.Time, fn func(*connecthub.User) error,
	link func(*sqlx.Tx) store.OIDCTx) (*connecthub.User, error) {
	return store.UpdateUser(s.inTx(ctx), now, fn, func(tx *sqlx.Tx) (*connecthub.User, error) {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+store.UserColumns+` FROM users WHERE username = ?`, username))
		return u, notFound(err, "user", username)
	}, func(tx *sqlx.Tx, after *connecthub.User, d store.UserDecision) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET display_name = ?, role = ?, disabled = ?, password_hash = ?,
			updated_at = ?, last_login_at = ? WHERE username = ?`, after.DisplayName, string(after.Role), boolInt(after.Disabled),
			after.PasswordHash, micros(after.UpdatedAt), nullMicros(after.LastLoginAt), username); err != nil {
			return dbErr(err)
		}
		if d.RevokeCredentials {
			return revokeUserCredentials(ctx, tx, username, now)
		}
		return nil
	}, link)
}

// revokeUserCredentials ends a user's sessions (not the break-glass ones,
// which belong to no user row) and personal tokens, keeping the first
// revocation time of those already ended.
func revokeUserCredentials(ctx context.Context, tx *sqlx.Tx, username string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?)
		WHERE user_name = ? AND break_glass = 0`, micros(now), username); err != nil {
		return dbErr(err)
	}
	_, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?)
		WHERE owner = ? AND scope = 'user'`, micros(now), username)
	return dbErr(err)
}

// UserLoggedIn implements store.UserStore.
func (s *Store) UserLoggedIn(ctx context.Context, username string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE username = ?`, micros(now), username)
		return affectedOrNotFound(res, err, "user", username)
	})
}

func scanUser(sc scanner) (*connecthub.User, error) {
	var (
		u                connecthub.User
		role             string
		disabled         int64
		created, updated int64
		lastLogin        sql.NullInt64
	)
	if err := sc.Scan(&u.Username, &u.DisplayName, &role, &disabled, &u.PasswordHash, &created, &updated, &lastLogin); err != nil {
		return nil, err
	}
	u.Role, u.Disabled = connecthub.Role(role), disabled != 0
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(created), fromMicros(updated), timePtr(lastLogin)
	return &u, nil
}
