package config

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
)

// DefaultOIDCScopes are the scopes a single sign-on asks the issuer for:
// the ID token, the person's names and e-mail address.
var DefaultOIDCScopes = []string{"openid", "profile", "email"}

// OIDCCallbackPath is where the issuer sends the browser back to, below
// CONNECTHUB_PUBLIC_URL; it is the redirect URI to register at the issuer.
const OIDCCallbackPath = "/admin/oidc/callback"

// OIDCEnabled reports whether single sign-on is configured.
func (c *Config) OIDCEnabled() bool { return c.OIDCIssuer != "" }

// OIDCRedirectURL is the redirect URI of the sign-in: the public URL
// with OIDCCallbackPath.
func (c *Config) OIDCRedirectURL() string {
	return strings.TrimRight(c.PublicURL, "/") + OIDCCallbackPath
}

// OIDCRoles parses OIDCRoleMap: comma-separated value=role pairs. The
// last "=" of a pair separates the role, so that a value may hold "="
// (a directory's group DN); blanks around values are ignored.
func (c *Config) OIDCRoles() (map[string]connecthub.Role, error) {
	out := map[string]connecthub.Role{}
	for pair := range strings.SplitSeq(c.OIDCRoleMap, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		i := strings.LastIndex(pair, "=")
		if i < 0 {
			return nil, fmt.Errorf("%q is not value=role (like ops-admins=admin)", strings.TrimSpace(pair))
		}
		value := strings.TrimSpace(pair[:i])
		role, err := connecthub.ParseRole(pair[i+1:])
		if err != nil || value == "" {
			return nil, fmt.Errorf("%q is not value=role with a role of viewer, operator or admin", strings.TrimSpace(pair))
		}
		if prev, dup := out[value]; dup && prev != role {
			return nil, fmt.Errorf("%q is mapped twice, to %s and %s", value, prev, role)
		}
		out[value] = role
	}
	return out, nil
}

// validateOIDC checks the single sign-on settings: all or nothing, an
// issuer URL, a client, a public URL to derive the redirect URI from and
// a role map that parses. The issuer itself is not contacted here: the
// server discovers it on the first sign-in, so that a server whose
// identity provider is briefly away still starts.
func (c *Config) validateOIDC(bad func(name, format string, args ...any)) {
	if !c.OIDCEnabled() {
		for name, set := range map[string]bool{"CONNECTHUB_OIDC_CLIENT_ID": c.OIDCClientID != "",
			"CONNECTHUB_OIDC_CLIENT_SECRET": c.OIDCClientSecret != "", "CONNECTHUB_OIDC_ROLE_MAP": c.OIDCRoleMap != ""} {
			if set {
				bad(name, "is set but CONNECTHUB_OIDC_ISSUER is not: set the issuer to turn single sign-on on")
			}
		}
		return
	}
	if u, err := url.Parse(c.OIDCIssuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		bad("CONNECTHUB_OIDC_ISSUER", "must be the issuer's absolute http(s) URL without query, like https://sso.example.com/realms/ops")
	}
	if c.OIDCClientID == "" {
		bad("CONNECTHUB_OIDC_CLIENT_ID", "is required when CONNECTHUB_OIDC_ISSUER is set")
	}
	if c.PublicURL == "" {
		bad("CONNECTHUB_PUBLIC_URL", "is required when CONNECTHUB_OIDC_ISSUER is set: the redirect URI is derived from it (<public url>%s)", OIDCCallbackPath)
	}
	if len(c.OIDCScopes) == 0 {
		bad("CONNECTHUB_OIDC_SCOPES", "must name at least one scope")
	}
	for _, s := range c.OIDCScopes {
		if strings.ContainsAny(s, " \t\"") {
			bad("CONNECTHUB_OIDC_SCOPES", "scope %q must not contain spaces or quotes", s)
		}
	}
	if strings.TrimSpace(c.OIDCRoleClaim) == "" {
		bad("CONNECTHUB_OIDC_ROLE_CLAIM", "must not be empty")
	}
	if _, err := c.OIDCRoles(); err != nil {
		bad("CONNECTHUB_OIDC_ROLE_MAP", "%v", err)
	}
	if c.OIDCName == "" || utf8.RuneCountInString(c.OIDCName) > 40 {
		bad("CONNECTHUB_OIDC_NAME", "must be 1-40 characters")
	}
}
