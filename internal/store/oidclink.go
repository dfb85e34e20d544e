package store

import (
	"context"
	"time"

	"github.com/connecthub/connecthub"
)

// OIDCLinkStore lets an admin open a local user to single sign-on: the
// next OpenID Connect sign-in that reports the user's username is linked
// to the user, once, instead of being refused as a takeover.
type OIDCLinkStore interface {
	// OIDCAllowLink sets (allow) or clears the user's link mark, in one
	// write transaction with the context's audit entry, and reports
	// whether the mark changed. KindNotFound if there is no such user;
	// allowing a user already linked to an account is KindConflict
	// (oidc_linked), since a user is linked to one account at most.
	OIDCAllowLink(ctx context.Context, username string, allow bool, now time.Time) (changed bool, err error)
	// UserUpdateLink is UserUpdate and OIDCAllowLink as one write
	// transaction (UpdateUser with the mark): the user fn is given carries
	// its link mark in OIDCLinkAllowed, and a mark fn sets or clears is
	// written as OIDCAllowLink writes it, with the user's fields and the
	// context's audit entry. Any refusal (fn's error, a field UserUpdate
	// refuses, allowing a user already linked) writes nothing. The user
	// returned carries its mark.
	UserUpdateLink(ctx context.Context, username string, now time.Time, fn func(u *connecthub.User) error) (*connecthub.User, error)
	// OIDCLinkMarks returns the usernames that carry the link mark, in
	// one read: the list of users shows the mark of each without a
	// lookup per user.
	OIDCLinkMarks(ctx context.Context) (map[string]bool, error)
}

// OIDCLinkIssuer is the issuer of the mark OIDCAllowLink stores: a row of
// the identities table whose subject is the username. It is no URL, so no
// configured issuer can report it (CheckOIDCSignIn refuses it too), and it
// takes the username's one identity slot, which is what it stands for: the
// first real sign-in under that name replaces it in the same transaction,
// and from then on the link decides who signs in. It
// needs no table of its own.
const OIDCLinkIssuer = "connecthub:link-on-next-sign-in"

// OIDCLinkAllowed splits a user's identities into the accounts it is
// linked to and whether its link mark is set.
func OIDCLinkAllowed(ids []*connecthub.OIDCIdentity) (linked []*connecthub.OIDCIdentity, allowed bool) {
	linked = make([]*connecthub.OIDCIdentity, 0, len(ids))
	for _, id := range ids {
		if id.Issuer == OIDCLinkIssuer {
			allowed = true
			continue
		}
		linked = append(linked, id)
	}
	return linked, allowed
}

// OIDCLinkWrite is what OIDCAllowLink writes.
type OIDCLinkWrite int

// The writes of OIDCAllowLink.
const (
	OIDCLinkKeep   OIDCLinkWrite = iota // nothing changes
	OIDCLinkInsert                      // insert the mark
	OIDCLinkDelete                      // delete the mark
)

// DecideOIDCAllowLink decides OIDCAllowLink's write from the user's one
// identity row, if it has one (issuer, found).
func DecideOIDCAllowLink(username, issuer string, found, allow bool) (OIDCLinkWrite, error) {
	switch {
	case !found && allow:
		return OIDCLinkInsert, nil
	case !found:
		return OIDCLinkKeep, nil
	case issuer != OIDCLinkIssuer && allow:
		return OIDCLinkKeep, ErrOIDCAlreadyLinked(username)
	case issuer == OIDCLinkIssuer && !allow:
		return OIDCLinkDelete, nil
	}
	return OIDCLinkKeep, nil
}

// ErrOIDCAlreadyLinked refuses to mark a user that an account is linked
// to already.
func ErrOIDCAlreadyLinked(username string) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "oidc_linked", Field: "allow_oidc_link", Args: []string{username},
		Message: "user " + username + " is linked to an account at the issuer already; it signs in through it"}
}

// LinkMarks is OIDCLinkMarks's answer for the usernames read: a set, never
// nil.
func LinkMarks(usernames []string) map[string]bool {
	marks := make(map[string]bool, len(usernames))
	for _, u := range usernames {
		marks[u] = true
	}
	return marks
}
