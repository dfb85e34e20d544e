package sso

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/connecthub/connecthub"
)

// Reasons a sign-in is refused, as Failure.Reason: short words for the
// audit log and the page that tells the person.
const (
	ReasonState     = "state"     // no, an altered, an expired or another browser's flow cookie, or a state that does not match it
	ReasonProvider  = "provider"  // the issuer answered with an error (the person cancelled, the client is not allowed)
	ReasonDiscovery = "discovery" // the issuer's discovery document could not be fetched or is wrong
	ReasonExchange  = "exchange"  // the code could not be exchanged for tokens (a wrong secret or PKCE verifier)
	ReasonIssuer    = "issuer"    // the ID token names another issuer
	ReasonAudience  = "audience"  // the ID token is for another client
	ReasonSignature = "signature" // the ID token's signature is not the issuer's, or the token is malformed
	ReasonExpired   = "expired"   // the ID token expired
	ReasonNonce     = "nonce"     // the ID token's nonce is not this sign-in's
	ReasonClaims    = "claims"    // the ID token lacks what a user needs (a usable name)
)

// Failure is a refused sign-in: Reason says why in a word, Err the detail
// for the log (never a token or a secret).
type Failure struct {
	Reason string
	// Username is who the ID token named, when it got that far.
	Username string
	Err      error
}

func (f *Failure) Error() string {
	if f.Err == nil {
		return "oidc sign-in refused: " + f.Reason
	}
	return "oidc sign-in refused: " + f.Reason + ": " + f.Err.Error()
}

func (f *Failure) Unwrap() error { return f.Err }

func fail(reason string, err error) *Failure { return &Failure{Reason: reason, Err: err} }

// Identity is who the issuer vouched for.
type Identity struct {
	// Issuer and Subject identify the account for good.
	Issuer  string
	Subject string
	// Username is the name a first sign-in gives the user: the
	// preferred_username claim, else the email claim, else the subject,
	// whichever first is a valid username.
	Username    string
	DisplayName string
	// Role is what the role claim maps to.
	Role connecthub.Role
	// Groups are the role claim's values, for the log.
	Groups []string
}

// claims are the ID token's claims a sign-in reads.
type claims struct {
	Subject           string `json:"sub"`
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email"`
	Name              string `json:"name"`
	Nonce             string `json:"nonce"`
}

// Finish completes a sign-in at the callback: it checks the flow cookie
// and the state, exchanges the code with the PKCE verifier, verifies the
// ID token (signature, issuer, audience, expiry) and its nonce, and maps
// its claims. It returns the identity and where to go next, or a
// *Failure. The flow cookie is removed either way: a state is used once.
func (c *Client) Finish(w http.ResponseWriter, r *http.Request) (*Identity, string, error) {
	ctx := r.Context()
	q := r.URL.Query()
	ck, err := r.Cookie(flowCookie)
	if err != nil {
		return nil, "", fail(ReasonState, errFlow)
	}
	c.clearFlow(w, r)
	f, err := openFlow(ck.Value, c.cfg.Key, c.cfg.Now())
	if err != nil {
		return nil, "", fail(ReasonState, err)
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return nil, f.Next, fail(ReasonState, errors.New("the state in the callback is not this browser's"))
	}
	if e := q.Get("error"); e != "" {
		return nil, f.Next, fail(ReasonProvider, errors.New(clip(e+": "+q.Get("error_description"), 200)))
	}
	if q.Get("code") == "" {
		return nil, f.Next, fail(ReasonProvider, errors.New("the callback carries no code"))
	}
	p, err := c.provider(ctx)
	if err != nil {
		return nil, f.Next, err
	}
	tok, err := c.oauth(p).Exchange(oidc.ClientContext(ctx, c.client), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, f.Next, fail(ReasonExchange, exchangeError(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, f.Next, fail(ReasonExchange, errors.New("the token response has no id_token"))
	}
	id, err := p.Verifier(&oidc.Config{ClientID: c.cfg.ClientID, Now: c.cfg.Now}).Verify(oidc.ClientContext(ctx, c.client), raw)
	if err != nil {
		return nil, f.Next, fail(c.verifyReason(err, raw), err)
	}
	var cl claims
	if err := id.Claims(&cl); err != nil {
		return nil, f.Next, fail(ReasonClaims, err)
	}
	if subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(f.Nonce)) != 1 {
		return nil, f.Next, &Failure{Reason: ReasonNonce, Username: cl.PreferredUsername, Err: errors.New("the ID token's nonce is not this sign-in's")}
	}
	ident := &Identity{Issuer: id.Issuer, Subject: id.Subject, DisplayName: clip(strings.TrimSpace(cl.Name), connecthub.MaxDisplayName)}
	for _, n := range []string{cl.PreferredUsername, cl.Email, cl.Subject} {
		if connecthub.CheckUsername(n) == nil {
			ident.Username = n
			break
		}
	}
	if ident.Username == "" {
		return nil, f.Next, fail(ReasonClaims, errors.New("none of preferred_username, email and sub is a valid username"))
	}
	groups, err := c.groups(ctx, p, id, tok)
	if err != nil {
		return nil, f.Next, &Failure{Reason: ReasonClaims, Username: ident.Username, Err: err}
	}
	ident.Groups, ident.Role = groups, c.mapRole(groups)
	return ident, f.Next, nil
}

// exchangeError keeps the issuer's error code and description, and drops
// the response body, which a misbehaving issuer could fill with anything.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if msg == "" && re.Response != nil {
			msg = re.Response.Status
		}
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		return errors.New("the token endpoint refused the code: " + clip(msg, 200))
	}
	return err
}

// verifyReason names why Verify refused raw. Expiry has its own error
// type; for the rest the token's unverified claims tell a wrong issuer or
// audience from a bad signature, without depending on the library's
// messages.
func (c *Client) verifyReason(err error, raw string) string {
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return ReasonExpired
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ReasonSignature
	}
	payload, derr := base64.RawURLEncoding.DecodeString(parts[1])
	var un struct {
		Issuer   string          `json:"iss"`
		Audience json.RawMessage `json:"aud"`
	}
	if derr != nil || json.Unmarshal(payload, &un) != nil {
		return ReasonSignature
	}
	if un.Issuer != c.cfg.Issuer {
		return ReasonIssuer
	}
	var auds []string
	if json.Unmarshal(un.Audience, &auds) != nil {
		var one string
		_ = json.Unmarshal(un.Audience, &one)
		auds = []string{one}
	}
	if !slices.Contains(auds, c.cfg.ClientID) {
		return ReasonAudience
	}
	return ReasonSignature
}

// groups reads the role claim from the ID token, or, when the token lacks
// it, from the issuer's userinfo endpoint (some issuers put groups only
// there). A person with no such claim anywhere has no groups.
func (c *Client) groups(ctx context.Context, p *oidc.Provider, id *oidc.IDToken, tok *oauth2.Token) ([]string, error) {
	var all map[string]any
	if err := id.Claims(&all); err != nil {
		return nil, err
	}
	if v, ok := lookup(all, c.cfg.RoleClaim); ok {
		return claimStrings(v), nil
	}
	if p.UserInfoEndpoint() == "" {
		return nil, nil
	}
	info, err := p.UserInfo(oidc.ClientContext(ctx, c.client), oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, errors.New("the role claim is not in the ID token, and userinfo failed: " + err.Error())
	}
	var ui map[string]any
	if err := info.Claims(&ui); err != nil {
		return nil, err
	}
	v, _ := lookup(ui, c.cfg.RoleClaim)
	return claimStrings(v), nil
}

// lookup finds a claim by name, or by a dotted path into objects
// (realm_access.roles). A name that exists as written wins over a path.
func lookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	head, rest, ok := strings.Cut(name, ".")
	if !ok {
		return nil, false
	}
	sub, isObj := m[head].(map[string]any)
	if !isObj {
		return nil, false
	}
	return lookup(sub, rest)
}

// claimStrings reads a claim that is a string or a list of strings;
// anything else has no values.
func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// mapRole returns the highest role the values map to, or the default.
func (c *Client) mapRole(groups []string) connecthub.Role {
	role := c.cfg.DefaultRole
	for _, g := range groups {
		if r, ok := c.cfg.RoleMap[g]; ok && r.Allows(role) {
			role = r
		}
	}
	return role
}

// clip bounds s to n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
