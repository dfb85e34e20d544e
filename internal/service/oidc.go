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
// an account at the issuer never takes over a user it was not linked to.
func (s *Service) OIDCSignIn(ctx context.Context, in store.OIDCSignIn, client string) (*connecthub.User, error) {
	e := &connecthub.AuditEntry{At: s.now(), Action: "login.ok", ActorKind: connecthub.PrincipalSession, Client: clip(client, 64), Detail: "oidc"}
	actx := store.WithAudit(ctx, e)
	return s.st.OIDCSignIn(actx, in, s.now(), func(before, after *connecthub.User) {
		e.Actor, e.Target = clip(after.Username, 160), "user:"+clip(after.Username, 128)
		switch {
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
