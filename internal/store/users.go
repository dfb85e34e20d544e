package store

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
)

// UserStore keeps the people who sign in. Users are never deleted: a
// disabled user keeps its row, so that the audit log and the tokens it
// made still name somebody.
type UserStore interface {
	// UserCreate stores a new user (CheckUser); KindConflict
	// (user_exists) if the username is taken.
	UserCreate(ctx context.Context, u *connecthub.User) error
	// UserGet returns one user; KindNotFound if none. Lookups are exact
	// (bytewise).
	UserGet(ctx context.Context, username string) (*connecthub.User, error)
	// UserList returns every user, disabled ones included, by username.
	UserList(ctx context.Context) ([]*connecthub.User, error)
	// UserUpdate reads the user, calls fn with it and writes the result,
	// all in one write transaction, so that concurrent updates do not
	// lose each other's fields; fn's error is returned as it was and
	// nothing is written. What is written follows DecideUserUpdate: the
	// username cannot change, UpdatedAt is set to now, and disabling a
	// user revokes (revoked_at = now) its sessions and personal tokens in
	// the same transaction, so that they are refused on every replica
	// from the next request on. KindNotFound if there is no such user.
	// The link mark is neither read nor written (UserUpdateLink writes
	// it with the fields).
	UserUpdate(ctx context.Context, username string, now time.Time, fn func(u *connecthub.User) error) (*connecthub.User, error)
	// UserLoggedIn records a sign-in: last_login_at = now. An unknown
	// user is KindNotFound.
	UserLoggedIn(ctx context.Context, username string, now time.Time) error
}

// CheckUser checks a user UserCreate or UserUpdate is about to write.
func CheckUser(u *connecthub.User) error {
	if u == nil {
		return connecthub.Errorf(connecthub.KindInvalid, "user is required")
	}
	if err := connecthub.CheckUsername(u.Username); err != nil {
		return err
	}
	switch {
	case !u.Role.Valid():
		return connecthub.FieldError("role", "", "role must be viewer, operator or admin, not %q", u.Role)
	case len(u.DisplayName) > connecthub.MaxDisplayName || !utf8.ValidString(u.DisplayName):
		return connecthub.FieldError("display_name", "", "display_name must be at most %d bytes of UTF-8 text", connecthub.MaxDisplayName)
	case !utf8.ValidString(u.PasswordHash):
		return connecthub.FieldError("password_hash", "", "password_hash must be text")
	case u.CreatedAt.IsZero():
		return connecthub.FieldError("created_at", "", "created_at is required")
	case u.UpdatedAt.IsZero():
		return connecthub.FieldError("updated_at", "", "updated_at is required")
	}
	return nil
}

// UserDecision is what an update writes besides the user's row.
type UserDecision struct {
	// RevokeCredentials: the update disabled the user, so its sessions
	// and personal tokens end now.
	RevokeCredentials bool
}

// DecideUserUpdate checks what fn made of before and decides what the
// driver writes with it. after.UpdatedAt is set to now.
func DecideUserUpdate(before, after *connecthub.User, now time.Time) (UserDecision, error) {
	if err := CheckTime("now", now); err != nil {
		return UserDecision{}, err
	}
	if after.Username != before.Username {
		return UserDecision{}, connecthub.FieldError("username", "", "a user's username cannot change")
	}
	after.CreatedAt = before.CreatedAt
	after.UpdatedAt = now.UTC().Truncate(time.Microsecond) // as the drivers store it
	if err := CheckUser(after); err != nil {
		return UserDecision{}, err
	}
	return UserDecision{RevokeCredentials: after.Disabled && !before.Disabled}, nil
}

// ErrUserExists is UserCreate's conflict, wrapping the driver's
// unique-violation error.
func ErrUserExists(username string, err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "user_exists", Field: "username", Args: []string{username},
		Message: "a user named " + username + " already exists", Err: err}
}

// UpdateUser is the rule of UserUpdate and UserUpdateLink, on Modify: fn
// changes a copy of the user as read, DecideUserUpdate checks the change
// and decides what goes with it, and write stores the user and carries out
// the decision, all in one transaction. fn's own error reaches the caller
// unchanged.
//
// With link (UserUpdateLink), the user as read carries its link mark in
// OIDCLinkAllowed, and a mark fn sets or clears is written in the same
// transaction as OIDCAllowLink writes it; DecideOIDCAllowLink refuses it
// (a user already linked) before the user is written. Without link
// (UserUpdate), the mark is neither read nor written.
func UpdateUser[Tx any](inTx InTx[Tx], now time.Time, fn func(*connecthub.User) error,
	read func(Tx) (*connecthub.User, error), write func(tx Tx, after *connecthub.User, d UserDecision) error,
	link func(Tx) OIDCTx) (*connecthub.User, error) {
	var (
		before *connecthub.User
		issuer string
	)
	return Modify(inTx, func(tx Tx) (*connecthub.User, error) {
		u, err := read(tx)
		if err != nil {
			return nil, err
		}
		if link != nil {
			if issuer, err = link(tx).UserIssuer(u.Username); err != nil {
				return nil, err
			}
			u.OIDCLinkAllowed = issuer == OIDCLinkIssuer
		}
		before = u
		after := *u
		return &after, nil
	}, fn, func(tx Tx, after *connecthub.User) (*connecthub.User, error) {
		d, err := DecideUserUpdate(before, after, now)
		if err != nil {
			return nil, err
		}
		mark := OIDCLinkKeep
		if link == nil {
			after.OIDCLinkAllowed = before.OIDCLinkAllowed
		} else if after.OIDCLinkAllowed != before.OIDCLinkAllowed {
			if mark, err = DecideOIDCAllowLink(after.Username, issuer, issuer != "", after.OIDCLinkAllowed); err != nil {
				return nil, err
			}
		}
		if err := write(tx, after, d); err != nil {
			return nil, err
		}
		if mark != OIDCLinkKeep {
			if err := writeOIDCLink(link(tx), after.Username, mark, now); err != nil {
				return nil, err
			}
		}
		return after, nil
	})
}
