package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// checkUserText refuses what PostgreSQL's text cannot hold; the username
// pattern already keeps it to ASCII.
func checkUserText(u *connecthub.User) error {
	if !storable(u.DisplayName) {
		return connecthub.FieldError("display_name", "", "display_name must be UTF-8 text without NUL characters")
	}
	return nil
}

// UserCreate implements store.UserStore.
func (s *Store) UserCreate(ctx context.Context, u *connecthub.User) error {
	if err := store.CheckUser(u); err != nil {
		return err
	}
	if err := checkUserText(u); err != nil {
		return err
	}
	return s.conn(ctx, func(db execer) error {
		_, err := db.Exec(ctx, `INSERT INTO users (`+store.UserColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			u.Username, u.DisplayName, string(u.Role), u.Disabled, u.PasswordHash, utc(u.CreatedAt), utc(u.UpdatedAt), utcPtr(u.LastLoginAt))
		if isCode(err, codeUniqueViolation) {
			return store.ErrUserExists(u.Username, err)
		}
		return dbErr(err)
	})
}

// UserGet implements store.UserStore with one primary-key lookup: it runs
// on every request a session or a personal token makes, so that a role
// change or a disable holds at once.
func (s *Store) UserGet(ctx context.Context, username string) (*connecthub.User, error) {
	if !storable(username) {
		return nil, connecthub.NotFound("user", username)
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	u, err := scanUser(db.QueryRow(ctx, `SELECT `+store.UserColumns+` FROM users WHERE username = $1`, username))
	if err != nil {
		return nil, notFound(err, "user", username)
	}
	return u, nil
}

// UserList implements store.UserStore.
func (s *Store) UserList(ctx context.Context) ([]*connecthub.User, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT `+store.UserColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, dbErr(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*connecthub.User, error) { return scanUser(row) })
	if list == nil {
		list = []*connecthub.User{}
	}
	return list, dbErr(err)
}

// UserUpdate implements store.UserStore with store.UpdateUser, in one
// transaction that holds the user's row locked from the read to the write.
func (s *Store) UserUpdate(ctx context.Context, username string, now time.Time, fn func(*connecthub.User) error) (*connecthub.User, error) {
	return s.userUpdate(ctx, username, now, fn, nil)
}

// UserUpdateLink implements store.OIDCLinkStore with store.UpdateUser and
// the identities of the link mark, in UserUpdate's transaction.
func (s *Store) UserUpdateLink(ctx context.Context, username string, now time.Time, fn func(*connecthub.User) error) (*connecthub.User, error) {
	return s.userUpdate(ctx, username, now, fn, func(tx pgx.Tx) store.OIDCTx { return oidcTx{ctx, tx} })
}

// userUpdate is UserUpdate, and with link UserUpdateLink.
func (s *Store) userUpdate(ctx context.Context, username string, now time.Time, fn func(*connecthub.User) error,
	link func(pgx.Tx) store.OIDCTx) (*connecthub.User, error) {
	if !storable(username) {
		return nil, connecthub.NotFound("user", username)
	}
	return store.UpdateUser(s.inTx(ctx), now, fn, func(tx pgx.Tx) (*connecthub.User, error) {
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+store.UserColumns+` FROM users WHERE username = $1 FOR UPDATE`, username))
		return u, notFound(err, "user", username)
	}, func(tx pgx.Tx, after *connecthub.User, d store.UserDecision) error {
		if err := checkUserText(after); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET display_name = $1, role = $2, disabled = $3, password_hash = $4,
			updated_at = $5, last_login_at = $6 WHERE username = $7`, after.DisplayName, string(after.Role), after.Disabled,
			after.PasswordHash, utc(after.UpdatedAt), utcPtr(after.LastLoginAt), username); err != nil {
			return dbErr(err)
		}
		if !d.RevokeCredentials {
			return nil
		}
		// The break-glass sessions belong to no user row.
		if _, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1)
			WHERE user_name = $2 AND NOT break_glass`, utc(now), username); err != nil {
			return dbErr(err)
		}
		_, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1)
			WHERE owner = $2 AND scope = 'user'`, utc(now), username)
		return dbErr(err)
	}, link)
}

// UserLoggedIn implements store.UserStore.
func (s *Store) UserLoggedIn(ctx context.Context, username string, now time.Time) error {
	if err := store.CheckTime("now", now); err != nil {
		return err
	}
	if !storable(username) {
		return connecthub.NotFound("user", username)
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	tag, err := db.Exec(ctx, `UPDATE users SET last_login_at = $1 WHERE username = $2`, utc(now), username)
	if err != nil {
		return dbErr(err)
	}
	if tag.RowsAffected() == 0 {
		return connecthub.NotFound("user", username)
	}
	return nil
}

func scanUser(row pgx.Row) (*connecthub.User, error) {
	var (
		u    connecthub.User
		role string
	)
	if err := row.Scan(&u.Username, &u.DisplayName, &role, &u.Disabled, &u.PasswordHash, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt); err != nil {
		return nil, err
	}
	u.Role = connecthub.Role(role)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = utc(u.CreatedAt), utc(u.UpdatedAt), utcPtr(u.LastLoginAt)
	return &u, nil
}
