package service

import (
	"context"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// OIDCSignIn records a sign-in an OpenID Connect issuer vouched for: on
// the account's first sign-in it creates the user (no password: single
// sign-on only), later it finds the user the account is linked to, and
// either way it sets the user's role to what the issuer's claims map to.
// The login.ok entry, with the role change if any, is written in the same
// transaction. A user disabled here is refused (KindForbidden), and so is
// a first sign-in whose username a local user already has (KindConflict):
// an account at the issuer never takes over a user it was not linked to,
// unless an admin allowed that user's link (OIDCAllowLink), which the first
// such sign-in uses up.
func (s *Service) OIDCSignIn(ctx context.Context, in store.OIDCSignIn, client string) (*connecthub.User, error) {
	e := &connecthub.AuditEntry{At: s.now(), Action: "login.ok", ActorKind: connecthub.PrincipalSession, Client: clip(client, 64), Detail: "oidc"}
	actx := store.WithAudit(ctx, e)
	return s.st.OIDCSignIn(actx, in, s.now(), func(before, after *connecthub.User, linked bool) {
		e.Actor, e.Target = clip(after.Username, 160), "user:"+clip(after.Username, 128)
		switch {
		case linked:
			// The admin allowed this user to be linked on its next single
			// sign-on; the entry says to which account it now is.
			e.Detail = clip("oidc; linked the local user to "+in.Issuer+" subject "+in.Subject, 200)
			e.Changes = []connecthub.AuditChange{{Field: "oidc_link", Before: "allowed", After: "linked"}}
			if before.Role != after.Role {
				e.Changes = append(e.Changes, connecthub.AuditChange{Field: "role", Before: string(before.Role), After: string(after.Role)})
			}
		case before == nil:
			e.Detail = "oidc; first sign-in created the user"
			e.Changes = []connecthub.AuditChange{{Field: "role", After: string(after.Role)},
				{Field: "display_name", After: store.AuditValue(after.DisplayName)}}
		case before.Role != after.Role:
			e.Detail = "oidc; role from the issuer's claims"
			e.Changes = []connecthub.AuditChange{{Field: "role", Before: string(before.Role), After: string(after.Role)}}
		}
	})
}

// OIDCAllowLink lets (allow) or no longer lets the next single sign-on
// under a local user's username link that account to the user, audited as
// user.oidc_link when it changes anything. It is the admin's explicit
// opt-in for a person who had a password here before single sign-on came;
// without it such a first sign-in stays refused.
func (s *Service) OIDCAllowLink(ctx context.Context, username string, allow bool) error {
	allowed, err := s.oidcLinkState(ctx, username, allow)
	if err != nil {
		return err
	}
	if allowed == allow {
		return nil // nothing to change, and so nothing to audit
	}
	actx, audit := s.audited(ctx, "user.oidc_link", "user:"+username)
	audit.Changes = []connecthub.AuditChange{store.OIDCLinkAuditChange(allow)}
	_, err = s.st.OIDCAllowLink(actx, username, allow, s.now())
	return err
}

// oidcLinkState checks that the user exists and, when allow is set, that
// no account is linked to it yet, and reports whether its link mark is set.
func (s *Service) oidcLinkState(ctx context.Context, username string, allow bool) (bool, error) {
	if _, err := s.st.UserGet(ctx, username); err != nil {
		return false, err
	}
	ids, err := s.st.OIDCIdentities(ctx, username)
	if err != nil {
		return false, err
	}
	linked, allowed := store.OIDCLinkAllowed(ids)
	if allow && len(linked) > 0 {
		return false, store.ErrOIDCAlreadyLinked(username)
	}
	return allowed, nil
}

// withLinkMark fills in u.OIDCLinkAllowed.
func (s *Service) withLinkMark(ctx context.Context, u *connecthub.User) error {
	ids, err := s.st.OIDCIdentities(ctx, u.Username)
	if err != nil {
		return err
	}
	_, u.OIDCLinkAllowed = store.OIDCLinkAllowed(ids)
	return nil
}
