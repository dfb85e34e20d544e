package store

import (
	"context"
	"time"

	"github.com/connecthub/connecthub"
)

// SessionStore keeps the admin UI's sessions. Only a hash of each cookie
// secret is stored, so a copy of the database logs nobody in.
//
// Expired sessions are deleted lazily: SessionCreate first deletes every
// session that expired at or before the new one's CreatedAt, so the table
// holds at most the sessions of one TTL and needs no cleaner.
type SessionStore interface {
	// SessionCreate stores a session after deleting the expired ones (see
	// above); KindConflict if the id or the hash exists. KindInvalid
	// without an id, user, hash, CreatedAt or LastSeenAt, or with an
	// ExpiresAt not after CreatedAt.
	SessionCreate(ctx context.Context, s *connecthub.Session) error
	// SessionByHash returns the session with that hash, revoked or expired
	// or not (the caller decides what they mean); KindNotFound if none.
	SessionByHash(ctx context.Context, hash string) (*connecthub.Session, error)
	// SessionList returns the live sessions at now (not revoked, expiring
	// after now), newest first (by CreatedAt, then id descending).
	SessionList(ctx context.Context, now time.Time) ([]*connecthub.Session, error)
	// SessionRevoke sets revoked_at of the session with that id. Revoking
	// a revoked session succeeds and keeps the first revocation time: its
	// row stays until it expires, so that its cookie is known as logged
	// out rather than taken for a forgery. KindNotFound if none.
	SessionRevoke(ctx context.Context, id string, now time.Time) error
	// SessionTouch records activity: last_seen_at = now, unless the
	// recorded one is less than a minute before now (or after it), when
	// nothing is written, so callers may call it on every request.
	// Touching an unknown id writes nothing and is not an error.
	SessionTouch(ctx context.Context, id string, now time.Time) error
}

// SessionTouchEvery is how stale last_seen_at must be before SessionTouch
// writes it again: at most one write a minute per session, however busy.
const SessionTouchEvery = time.Minute

// CheckSession checks a session SessionCreate is given.
func CheckSession(s *connecthub.Session) error {
	if s == nil {
		return connecthub.Errorf(connecthub.KindInvalid, "session is required")
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{
		{"id", s.ID == ""}, {"user", s.User == ""}, {"hash", s.Hash == ""},
		{"created_at", s.CreatedAt.IsZero()}, {"last_seen_at", s.LastSeenAt.IsZero()},
	} {
		if f.missing {
			return connecthub.FieldError(f.name, "", "session %s is required", f.name)
		}
	}
	if !s.ExpiresAt.After(s.CreatedAt) {
		return connecthub.FieldError("expires_at", "", "expires_at must be after created_at")
	}
	return nil
}

// ErrSessionExists is SessionCreate's conflict, wrapping the driver's
// unique-violation error.
func ErrSessionExists(err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "session_exists",
		Message: "a session with this id or secret already exists", Err: err}
}

// ErrNoSessionHash is SessionByHash's not-found error. The hash is a
// credential's fingerprint, so it is not named.
func ErrNoSessionHash() error {
	return connecthub.Errorf(connecthub.KindNotFound, "no session has this secret")
}
