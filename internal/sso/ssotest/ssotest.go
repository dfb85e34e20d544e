// Package ssotest is an OpenID Connect provider for tests, built from the
// protocol's documents (OpenID Connect Core and Discovery, RFC 6749, RFC
// 7636): a discovery document, a JWKS, an authorization endpoint that
// signs the configured person in at once and redirects back with a code,
// and a token endpoint that checks the client, the redirect URI and the
// PKCE verifier (S256) before it answers with an ID token carrying the
// nonce. It runs on 127.0.0.1 and can be told to misbehave in the ways a
// relying party must refuse: a wrong issuer, audience or nonce, an
// expired token, a signature by a key it does not publish, an error
// instead of a code.
package ssotest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Login is who the next sign-ins sign in as, and how the provider should
// misbehave while doing it.
type Login struct {
	// Subject is the sub claim.
	Subject string
	// Claims are added to the ID token (preferred_username, email, name,
	// groups …).
	Claims map[string]any
	// Issuer, Audience and Nonce, when set, replace the right values in
	// the ID token.
	Issuer, Audience, Nonce string
	// Lifetime is how long the ID token is valid from now; negative for
	// a token that expired. Default 5 minutes.
	Lifetime time.Duration
	// ForeignKey signs the ID token with a key the JWKS does not list.
	ForeignKey bool
	// Error makes the authorization endpoint answer with this OAuth
	// error (access_denied …) instead of a code.
	Error string
}

// Provider is a running provider. Its URL is the issuer.
type Provider struct {
	URL          string
	ClientID     string
	ClientSecret string

	t       *testing.T
	srv     *httptest.Server
	key     *ecdsa.PrivateKey
	foreign *ecdsa.PrivateKey

	mu        sync.Mutex
	login     Login
	codes     map[string]grant
	exchanges int
	down      bool
}

// grant is what an issued code stands for.
type grant struct {
	clientID, redirect, challenge, nonce string
	login                                Login
	expires                              time.Time
}

// New starts a provider on 127.0.0.1 for the client (clientID, secret)
// until the test ends. It signs in nobody until SetLogin.
func New(t *testing.T, clientID, secret string) *Provider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: clientID, ClientSecret: secret, t: t, key: key, foreign: foreign, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			http.Error(w, "the test provider is down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// SetLogin sets who the following sign-ins sign in as.
func (p *Provider) SetLogin(l Login) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.login = l
}

// SetDown makes the provider answer every request 503 (down) or serve
// again, for the tests of an issuer that is away.
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// Exchanges counts the codes exchanged for tokens.
func (p *Provider) Exchanges() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exchanges
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"jwks_uri":                              p.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: string(jose.ES256), Use: "sig"}}})
}

// authorize signs the configured person in at once: it checks the
// request as an authorization server must (the client, a code challenge
// with S256) and redirects back with a code and the state.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme == "" || q.Get("client_id") != p.ClientID {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	p.mu.Lock()
	l := p.login
	p.mu.Unlock()
	switch {
	case l.Error != "":
		back.Set("error", l.Error)
		back.Set("error_description", "the test provider was told to refuse")
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
		back.Set("error_description", "response_type code with an S256 code_challenge is required")
	default:
		code := rand.Text()
		p.mu.Lock()
		p.codes[code] = grant{clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"),
			nonce: q.Get("nonce"), login: l, expires: time.Now().Add(time.Minute)}
		p.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token exchanges a code once, for the client it was issued to, with the
// same redirect URI and the verifier of its challenge.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request", "unreadable form")
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) != 1 {
		w.Header().Set("WWW-Authenticate", "Basic")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	code := r.PostForm.Get("code")
	p.mu.Lock()
	g, found := p.codes[code]
	delete(p.codes, code) // a code is good once
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code":
		tokenError(w, "unsupported_grant_type", "only authorization_code")
		return
	case !found || time.Now().After(g.expires) || g.clientID != id:
		tokenError(w, "invalid_grant", "unknown, used or expired code")
		return
	case r.PostForm.Get("redirect_uri") != g.redirect:
		tokenError(w, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		tokenError(w, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	raw, err := p.idToken(g)
	if err != nil {
		p.t.Errorf("ssotest: sign the ID token: %v", err)
		tokenError(w, "server_error", "cannot sign")
		return
	}
	p.mu.Lock()
	p.exchanges++
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 300, "id_token": raw})
}

// idToken signs the ID token of a grant, as its login says.
func (p *Provider) idToken(g grant) (string, error) {
	l := g.login
	now := time.Now()
	lifetime := l.Lifetime
	if lifetime == 0 {
		lifetime = 5 * time.Minute
	}
	claims := map[string]any{}
	maps.Copy(claims, l.Claims)
	claims["iss"], claims["sub"], claims["aud"], claims["nonce"] = p.URL, l.Subject, p.ClientID, g.nonce
	claims["iat"], claims["exp"] = now.Add(-time.Minute).Unix(), now.Add(lifetime).Unix()
	if lifetime < 0 {
		claims["iat"] = now.Add(2 * lifetime).Unix()
	}
	for k, v := range map[string]string{"iss": l.Issuer, "aud": l.Audience, "nonce": l.Nonce} {
		if v != "" {
			claims[k] = v
		}
	}
	key := p.key
	if l.ForeignKey {
		key = p.foreign
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return sig.CompactSerialize()
}

func tokenError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
