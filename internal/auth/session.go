// Package auth holds the admin web UI's authentication: signed session
// cookies, CSRF tokens bound to a session, constant-time credential checks
// and a per-client login rate limiter.
//
// Sessions are stateless: the cookie carries who logged in and until when,
// signed with a key derived from the admin token. Any replica that knows the
// token can verify it without a shared session table, and rotating the admin
// token logs everybody out, which is what an operator who rotates it after a
// leak wants.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultCookieName is the session cookie's name unless Config says otherwise.
const DefaultCookieName = "connecthub_session"

// CSRFHeader is the request header that carries the CSRF token on requests
// made by scripts (htmx, fetch); HTML forms send the CSRFField form field.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// maxCookieLen bounds the cookie value we are willing to parse; a real one is
// about 200 bytes.
const maxCookieLen = 1024

// clockSkew tolerates replicas whose clocks disagree a little: a cookie
// issued "in the future" by up to this much is still accepted.
const clockSkew = time.Minute

// Errors returned by Verify. They are deliberately vague to the client (the
// UI just asks the person to log in again) but distinct for logs and tests.
var (
	ErrNoSession = errors.New("auth: no session cookie")
	ErrInvalid   = errors.New("auth: session cookie is malformed or its signature does not match")
	ErrExpired   = errors.New("auth: session expired")
	ErrRevoked   = errors.New("auth: session was logged out")
)

// Config configures a Manager.
type Config struct {
	// Secret is the admin token. The signing and CSRF keys are derived from
	// it, so sessions do not survive a change of the token. Required.
	Secret string
	// TTL is how long a session lasts after login. Required, > 0.
	TTL time.Duration
	// CookieName defaults to DefaultCookieName.
	CookieName string
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
}

// Session is a verified login.
type Session struct {
	// ID is random per login; the CSRF token is bound to it.
	ID        string    `json:"sid"`
	User      string    `json:"u"`
	IssuedAt  time.Time `json:"-"`
	ExpiresAt time.Time `json:"-"`
}

// payload is the signed part of the cookie. Times are Unix seconds so the
// cookie stays short.
type payload struct {
	Version int    `json:"v"`
	ID      string `json:"sid"`
	User    string `json:"u"`
	Issued  int64  `json:"iat"`
	Expires int64  `json:"exp"`
}

// Manager issues and verifies session cookies and CSRF tokens. It is safe
// for concurrent use.
type Manager struct {
	signKey []byte
	csrfKey []byte
	ttl     time.Duration
	cookie  string
	now     func() time.Time

	mu      sync.Mutex
	revoked map[string]time.Time // session id → its expiry, pruned lazily
}

// NewManager checks cfg and returns a Manager.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Secret == "" {
		return nil, errors.New("auth: Secret (the admin token) is required")
	}
	if cfg.TTL <= 0 {
		return nil, fmt.Errorf("auth: TTL must be positive, got %s", cfg.TTL)
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{
		signKey: derive(cfg.Secret, "connecthub/admin-session/v1"),
		csrfKey: derive(cfg.Secret, "connecthub/admin-csrf/v1"),
		ttl:     cfg.TTL,
		cookie:  cfg.CookieName,
		now:     cfg.Now,
		revoked: make(map[string]time.Time),
	}, nil
}

// derive makes a purpose-specific key from the admin token, so that a value
// signed for one purpose (a session) can never pass as another (a CSRF
// token), and the token itself is never used as a key directly.
func derive(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// CookieName returns the session cookie's name.
func (m *Manager) CookieName() string { return m.cookie }

// TTL returns the session lifetime.
func (m *Manager) TTL() time.Duration { return m.ttl }

// Issue starts a session for user and returns it with the cookie value.
func (m *Manager) Issue(user string) (*Session, string, error) {
	id, err := RandomToken(16)
	if err != nil {
		return nil, "", err
	}
	now := m.now()
	p := payload{Version: 1, ID: id, User: user, Issued: now.Unix(), Expires: now.Add(m.ttl).Unix()}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, "", err
	}
	body := base64.RawURLEncoding.EncodeToString(raw)
	value := body + "." + base64.RawURLEncoding.EncodeToString(m.sign(body))
	return sessionOf(p), value, nil
}

func (m *Manager) sign(body string) []byte {
	mac := hmac.New(sha256.New, m.signKey)
	mac.Write([]byte(body))
	return mac.Sum(nil)
}

func sessionOf(p payload) *Session {
	return &Session{ID: p.ID, User: p.User, IssuedAt: time.Unix(p.Issued, 0).UTC(), ExpiresAt: time.Unix(p.Expires, 0).UTC()}
}

// Verify checks a cookie value's signature, expiry and revocation. The
// signature is checked before anything in the payload is trusted.
func (m *Manager) Verify(value string) (*Session, error) {
	if value == "" {
		return nil, ErrNoSession
	}
	if len(value) > maxCookieLen {
		return nil, ErrInvalid
	}
	body, sig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, ErrInvalid
	}
	gotMAC, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(gotMAC, m.sign(body)) {
		return nil, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, ErrInvalid
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil || p.Version != 1 || p.ID == "" || p.Expires <= p.Issued {
		return nil, ErrInvalid
	}
	now := m.now()
	if time.Unix(p.Issued, 0).After(now.Add(clockSkew)) {
		return nil, ErrInvalid
	}
	if !now.Before(time.Unix(p.Expires, 0)) {
		return nil, ErrExpired
	}
	m.mu.Lock()
	_, revoked := m.revoked[p.ID]
	m.mu.Unlock()
	if revoked {
		return nil, ErrRevoked
	}
	return sessionOf(p), nil
}

// FromRequest verifies the request's session cookie.
func (m *Manager) FromRequest(r *http.Request) (*Session, error) {
	c, err := r.Cookie(m.cookie)
	if err != nil {
		return nil, ErrNoSession
	}
	return m.Verify(c.Value)
}

// Revoke ends a session in this process before its expiry (logout). The
// browser's cookie is cleared too, so in practice the session is gone; a
// copied cookie replayed against another replica stays valid there until
// it expires, because sessions are stateless (documented in
// docs/admin-ui.md).
func (m *Manager) Revoke(s *Session) {
	if s == nil {
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, exp := range m.revoked {
		if !now.Before(exp) {
			delete(m.revoked, id)
		}
	}
	m.revoked[s.ID] = s.ExpiresAt
}

// SetCookie writes the session cookie: HttpOnly (scripts cannot read it),
// SameSite=Lax (not sent on cross-site POSTs), Secure when the request came
// over TLS, either directly or through a proxy that says so, and Path=/ so
// that it also authorises the API calls of the UI's scripts.
func (m *Manager) SetCookie(w http.ResponseWriter, r *http.Request, value string, s *Session) {
	http.SetCookie(w, &http.Cookie{
		Name: m.cookie, Value: value, Path: "/", Expires: s.ExpiresAt, MaxAge: int(m.ttl.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: IsTLS(r),
	})
}

// ClearCookie removes the session cookie from the browser.
func (m *Manager) ClearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: m.cookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: IsTLS(r)})
}

// IsTLS reports whether the browser reached us over HTTPS. Trusting
// X-Forwarded-Proto here is safe: a forged header can only make the cookie
// stricter (Secure), never weaker.
func IsTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// CSRFToken returns the anti-forgery token of a session: an HMAC of its id,
// so it needs no storage, differs per login, and cannot be computed by a
// site that does not know the admin token.
func (m *Manager) CSRFToken(s *Session) string {
	mac := hmac.New(sha256.New, m.csrfKey)
	mac.Write([]byte(s.ID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckCSRF reports whether token is the session's CSRF token, in constant
// time.
func (m *Manager) CheckCSRF(s *Session, token string) bool {
	if s == nil || token == "" {
		return false
	}
	want := m.CSRFToken(s)
	return subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1
}

// Check implements the API's session checker: ok is true when the request
// carries a valid session cookie, csrfOK when it also carries that
// session's CSRF token in the X-CSRF-Token header. err says why there is
// no session (ErrNoSession without a cookie), so that the caller can count
// a forged cookie as a failed attempt (CountsAsFailure).
func (m *Manager) Check(r *http.Request) (ok, csrfOK bool, err error) {
	s, err := m.FromRequest(r)
	if err != nil {
		return false, false, err
	}
	return true, m.CheckCSRF(s, r.Header.Get(CSRFHeader)), nil
}

// RandomToken returns n random bytes, base64url-encoded.
func RandomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Credentials are the admin UI's username and password.
type Credentials struct {
	Username string
	Password string
}

// Match compares a login attempt with the credentials in constant time.
// Both fields are hashed first, so neither the comparison's duration nor
// an early exit reveals their lengths or which of them was wrong.
func (c Credentials) Match(user, password string) bool {
	if c.Password == "" {
		return false // never accept an empty configured password
	}
	u1, u2 := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(c.Username))
	p1, p2 := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(c.Password))
	okUser := subtle.ConstantTimeCompare(u1[:], u2[:])
	okPass := subtle.ConstantTimeCompare(p1[:], p2[:])
	return okUser&okPass == 1
}
