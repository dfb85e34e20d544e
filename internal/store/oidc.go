package store

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
)

// OIDCStore signs in people whom an OpenID Connect issuer vouched for.
type OIDCStore interface {
	// OIDCSignIn records a verified sign-in of the issuer's account
	// (in.Issuer, in.Subject), all in one write transaction: the user
	// linked to that account, or, on its first sign-in, a new user made
	// from in and linked to it. DecideOIDCSignIn decides what is written;
	// fn, when not nil, sees the user before (nil for a new one) and
	// after, inside the transaction (to complete the audit entry of the
	// context). A disabled user is KindForbidden (user_disabled) and a
	// new user whose username is taken KindConflict (user_exists); then
	// nothing is written. A taken username whose user carries the link
	// mark (OIDCLinkStore) is linked instead: the mark is replaced by the
	// account's identity, the user signs in as a linked one would, and fn
	// is told so (linked).
	OIDCSignIn(ctx context.Context, in OIDCSignIn, now time.Time, fn func(before, after *connecthub.User, linked bool)) (*connecthub.User, error)
	// OIDCIdentities returns the accounts linked to a user, oldest first.
	OIDCIdentities(ctx context.Context, username string) ([]*connecthub.OIDCIdentity, error)
}

// OIDCSignIn is a verified sign-in through an OpenID Connect issuer.
type OIDCSignIn struct {
	Issuer  string
	Subject string
	// Username and DisplayName make the user of a first sign-in; later
	// sign-ins keep the user's own.
	Username    string
	DisplayName string
	// Role is what the issuer's claims map to; it replaces the user's
	// role on every sign-in.
	Role connecthub.Role
}

// Bounds of an OIDC identity: OpenID Connect limits sub to 255 ASCII
// characters; an issuer is a URL.
const (
	MaxOIDCIssuer  = 512
	MaxOIDCSubject = 255
)

// CheckOIDCSignIn checks what OIDCSignIn is about to write.
func CheckOIDCSignIn(in OIDCSignIn) error {
	text := func(s string, n int) bool {
		return s != "" && len(s) <= n && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
	}
	switch {
	case !text(in.Issuer, MaxOIDCIssuer) || in.Issuer == OIDCLinkIssuer:
		return connecthub.FieldError("issuer", "", "issuer must be 1-%d bytes of UTF-8 text", MaxOIDCIssuer)
	case !text(in.Subject, MaxOIDCSubject):
		return connecthub.FieldError("subject", "", "subject must be 1-%d bytes of UTF-8 text", MaxOIDCSubject)
	case !in.Role.Valid():
		return connecthub.FieldError("role", "", "role must be viewer, operator or admin, not %q", in.Role)
	}
	return nil
}

// ErrOIDCUserDisabled refuses the sign-in of a user disabled here: the
// issuer vouching for the person does not overrule the local decision.
func ErrOIDCUserDisabled(username string) error {
	return &connecthub.Error{Kind: connecthub.KindForbidden, Code: "user_disabled",
		Message: "the user " + username + " is disabled in ConnectHub"}
}

// DecideOIDCSignIn returns the user OIDCSignIn writes: a new one (linked
// nil) with no password, or linked with the mapped role and the sign-in
// time. now is truncated as the drivers store it.
func DecideOIDCSignIn(linked *connecthub.User, in OIDCSignIn, now time.Time) (*connecthub.User, error) {
	if err := CheckTime("now", now); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	if linked == nil {
		u := &connecthub.User{Username: in.Username, DisplayName: in.DisplayName, Role: in.Role,
			CreatedAt: now, UpdatedAt: now, LastLoginAt: &now}
		if err := CheckUser(u); err != nil {
			return nil, err
		}
		return u, nil
	}
	if linked.Disabled {
		return nil, ErrOIDCUserDisabled(linked.Username)
	}
	after := *linked
	if after.Role != in.Role {
		after.Role, after.UpdatedAt = in.Role, now
	}
	after.LastLoginAt = &now
	return &after, CheckUser(&after)
}
