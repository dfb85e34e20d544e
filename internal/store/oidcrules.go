package store

import (
	"time"

	"github.com/connecthub/connecthub"
)

// OIDCTx is what a driver supplies, inside its write transaction, for the
// OIDC rules (SignInOIDC, AllowOIDCLink): reads and writes of users and
// oidc_identities rows, each one statement, with errors mapped.
type OIDCTx interface {
	// IdentityUser returns the username that the identity (issuer,
	// subject) belongs to, "" when there is none; lock holds the row
	// until the transaction ends where the dialect can.
	IdentityUser(issuer, subject string, lock bool) (string, error)
	// UserIssuer returns the issuer of an identity of username, "" when
	// it has none.
	UserIssuer(username string) (string, error)
	// User returns the user, its row locked where the dialect can;
	// KindNotFound when there is none.
	User(username string) (*connecthub.User, error)
	// CreateUser inserts u; ErrUserExists when the username is taken.
	CreateUser(u *connecthub.User) error
	// UpdateSignIn writes u's role, updated_at and last_login_at.
	UpdateSignIn(u *connecthub.User) error
	// InsertIdentity links (issuer, subject) to username; KindConflict
	// when the identity exists.
	InsertIdentity(issuer, subject, username string, at time.Time) error
	// DeleteIdentity deletes the identity (issuer, subject) and reports
	// whether there was one.
	DeleteIdentity(issuer, subject string) (bool, error)
}

// SignInOIDC is OIDCSignIn's rule, written once. The account's identity
// names its user; without one, a user of the wanted name that carries the
// link mark is linked now (its mark locked, so that two sign-ins racing for
// one mark take it in turn, and taken away; a mark gone meanwhile is
// ErrUserExists). DecideOIDCSignIn decides the user; a new one is created
// and linked, a linked one updated. fn, when not nil, sees the user before
// and after.
func SignInOIDC(tx OIDCTx, in OIDCSignIn, now time.Time, fn func(before, after *connecthub.User, linked bool)) (*connecthub.User, error) {
	username, err := tx.IdentityUser(in.Issuer, in.Subject, false)
	if err != nil {
		return nil, err
	}
	linkNow := false
	if username == "" {
		if username, err = tx.IdentityUser(OIDCLinkIssuer, in.Username, true); err != nil {
			return nil, err
		}
		linkNow = username != ""
	}
	var linked *connecthub.User
	if username != "" {
		if linked, err = tx.User(username); err != nil {
			return nil, err
		}
	}
	after, err := DecideOIDCSignIn(linked, in, now)
	if err != nil {
		return nil, err
	}
	if linked == nil {
		if err := tx.CreateUser(after); err != nil {
			return nil, err
		}
		if err := tx.InsertIdentity(in.Issuer, in.Subject, after.Username, after.CreatedAt); err != nil {
			return nil, err
		}
	} else if err := tx.UpdateSignIn(after); err != nil {
		return nil, err
	}
	if linkNow {
		took, err := tx.DeleteIdentity(OIDCLinkIssuer, after.Username)
		if err != nil {
			return nil, err
		}
		if !took {
			// Another sign-in took the mark between the read and now.
			return nil, ErrUserExists(after.Username, nil)
		}
		err = tx.InsertIdentity(in.Issuer, in.Subject, after.Username, *after.LastLoginAt)
		if connecthub.IsKind(err, connecthub.KindConflict) {
			return nil, ErrUserExists(after.Username, err)
		}
		if err != nil {
			return nil, err
		}
	}
	if fn != nil {
		fn(linked, after, linkNow)
	}
	return after, nil
}

// AllowOIDCLink is OIDCAllowLink's rule, written once: the user must exist
// (and is locked where the dialect can, so that a sign-in cannot link
// between the read and the write); DecideOIDCAllowLink decides from its
// identity whether the mark is inserted or deleted. It reports whether it
// changed anything.
func AllowOIDCLink(tx OIDCTx, username string, allow bool, now time.Time) (bool, error) {
	if err := CheckTime("now", now); err != nil {
		return false, err
	}
	if _, err := tx.User(username); err != nil {
		return false, err
	}
	issuer, err := tx.UserIssuer(username)
	if err != nil {
		return false, err
	}
	op, err := DecideOIDCAllowLink(username, issuer, issuer != "", allow)
	if err != nil || op == OIDCLinkKeep {
		return false, err
	}
	if err := writeOIDCLink(tx, username, op, now); err != nil {
		return false, err
	}
	return true, nil
}

// writeOIDCLink inserts or deletes username's link mark as op says.
func writeOIDCLink(tx OIDCTx, username string, op OIDCLinkWrite, now time.Time) error {
	switch op {
	case OIDCLinkInsert:
		err := tx.InsertIdentity(OIDCLinkIssuer, username, username, now.UTC().Truncate(time.Microsecond))
		if connecthub.IsKind(err, connecthub.KindConflict) {
			return ErrOIDCAlreadyLinked(username)
		}
		return err
	case OIDCLinkDelete:
		_, err := tx.DeleteIdentity(OIDCLinkIssuer, username)
		return err
	}
	return nil
}
