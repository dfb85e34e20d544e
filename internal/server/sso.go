package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"log/slog"

	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/sso"
)

// newSSO returns the single sign-on client cfg configures, nil when it
// configures none. Its flow cookies are signed with a key derived from
// the admin token, which every replica shares, so that a sign-in begun on
// one replica finishes on another. The issuer is not contacted here: it
// is discovered on the first sign-in, so that this server starts (and its
// break-glass login works) while the identity provider is away.
func newSSO(cfg *config.Config, adminToken string, log *slog.Logger) (*sso.Client, error) {
	if !cfg.OIDCEnabled() {
		return nil, nil
	}
	roles, err := cfg.OIDCRoles()
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, []byte(adminToken))
	mac.Write([]byte("connecthub oidc flow cookie"))
	c, err := sso.New(sso.Config{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret.Value(),
		RedirectURL: cfg.OIDCRedirectURL(), Scopes: cfg.OIDCScopes, RoleClaim: cfg.OIDCRoleClaim, RoleMap: roles,
		Key: mac.Sum(nil), CookiePath: "/admin/oidc"})
	if err != nil {
		return nil, err
	}
	log.Info("single sign-on enabled; the issuer is discovered on the first sign-in",
		"issuer", cfg.OIDCIssuer, "client_id", cfg.OIDCClientID, "redirect_uri", cfg.OIDCRedirectURL(), "role_claim", cfg.OIDCRoleClaim)
	return c, nil
}
