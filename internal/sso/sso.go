// Package sso signs people in through an OpenID Connect issuer (Keycloak,
// Authing, Azure AD, Okta, Dex or any other): the authorization code flow
// with PKCE (S256), a state and a nonce bound to the browser by a signed,
// short-lived, HTTP-only cookie, and an ID token whose issuer, audience,
// signature and expiry are checked before anything of it is believed. Its
// result is an Identity: who the issuer says the person is, and the role
// its claims map to.
//
// The issuer is discovered on the first sign-in, not at start: a server
// whose identity provider is briefly away still starts, its break-glass
// login still works, and a failed discovery is tried again at the next
// sign-in.
package sso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/connecthub/connecthub"
)

// DefaultScopes are what a sign-in asks the issuer for: the ID token
// (openid), the person's names (profile) and address (email).
var DefaultScopes = []string{oidc.ScopeOpenID, "profile", "email"}

// flowTTL bounds how long a person may take at the issuer's login page;
// a callback later than that is refused as a stale state.
const flowTTL = 10 * time.Minute

// Config configures a Client.
type Config struct {
	// Issuer is the issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration". Required.
	Issuer string
	// ClientID is the client registered at the issuer; ID tokens must
	// name it as their audience. Required.
	ClientID string
	// ClientSecret is the client's secret; empty for a public client,
	// which PKCE alone protects.
	ClientSecret string
	// RedirectURL is the callback registered at the issuer. Required.
	RedirectURL string
	// Scopes default to DefaultScopes; "openid" is added when missing.
	Scopes []string
	// RoleClaim names the claim that holds the person's groups or roles,
	// a string or a list of strings; a dotted name reaches into objects
	// (realm_access.roles). Default "groups".
	RoleClaim string
	// RoleMap maps the claim's values to roles; the highest mapped role
	// wins, and a person none of whose values is mapped gets DefaultRole.
	RoleMap map[string]connecthub.Role
	// DefaultRole is the role of a person no value maps. Default viewer.
	DefaultRole connecthub.Role
	// Key signs the flow cookie (state, nonce, PKCE verifier). Required,
	// at least 16 bytes.
	Key []byte
	// CookiePath is where the browser sends the flow cookie back: the
	// callback's path or a prefix of it. Default "/".
	CookiePath string
	// HTTPClient talks to the issuer; nil means one with a 10s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Client runs sign-ins against one issuer. It is safe for concurrent use.
type Client struct {
	cfg    Config
	client *http.Client
	mu     sync.Mutex
	prov   *oidc.Provider // nil until discovery succeeded
}

// New checks cfg and returns a Client. It does not contact the issuer.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("sso: Issuer is required")
	case cfg.ClientID == "":
		return nil, errors.New("sso: ClientID is required")
	case cfg.RedirectURL == "":
		return nil, errors.New("sso: RedirectURL is required")
	case len(cfg.Key) < 16:
		return nil, errors.New("sso: Key must be at least 16 bytes")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "groups"
	}
	if cfg.DefaultRole == "" {
		cfg.DefaultRole = connecthub.RoleViewer
	}
	if !cfg.DefaultRole.Valid() {
		return nil, fmt.Errorf("sso: DefaultRole %q is no role", cfg.DefaultRole)
	}
	for v, r := range cfg.RoleMap {
		if !r.Valid() {
			return nil, fmt.Errorf("sso: RoleMap maps %q to %q, which is no role", v, r)
		}
	}
	if cfg.CookiePath == "" {
		cfg.CookiePath = "/"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{cfg: cfg, client: client}, nil
}

// provider returns the discovered issuer, discovering it now when no
// earlier sign-in did. A failure is not remembered: the next sign-in
// tries again.
func (c *Client) provider(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prov != nil {
		return c.prov, nil
	}
	// The provider keeps the context it was discovered with to fetch the
	// issuer's keys later, so it must outlive this request; the client's
	// timeout bounds each fetch, and a person waits at most that long.
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), c.client), c.cfg.Issuer)
	if err != nil {
		return nil, &Failure{Reason: ReasonDiscovery, Err: err}
	}
	c.prov = p
	return p, nil
}

// oauth returns the OAuth 2.0 configuration of the discovered issuer.
func (c *Client) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, RedirectURL: c.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: c.cfg.Scopes}
}

// Begin starts a sign-in: it sets the flow cookie on w and returns the
// issuer's URL to send the browser to. next is where the browser goes
// after a successful sign-in; the caller makes it safe.
func (c *Client) Begin(w http.ResponseWriter, r *http.Request, next string) (string, error) {
	p, err := c.provider(r.Context())
	if err != nil {
		return "", err
	}
	f, err := newFlow(next, c.cfg.Now().Add(flowTTL))
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: f.seal(c.cfg.Key), Path: c.cfg.CookiePath,
		MaxAge: int(flowTTL.Seconds()), HttpOnly: true, Secure: isTLS(r),
		// Lax, not Strict: the callback is a top-level navigation from
		// the issuer's site, on which a Strict cookie is not sent.
		SameSite: http.SameSiteLaxMode})
	return c.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), nil
}

// isTLS reports a request that reached the server (or its proxy) over
// HTTPS, where cookies are marked Secure.
func isTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// clearFlow removes the flow cookie: a state is good for one callback.
func (c *Client) clearFlow(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: c.cfg.CookiePath, MaxAge: -1,
		HttpOnly: true, Secure: isTLS(r), SameSite: http.SameSiteLaxMode})
}
