// Package auth holds the admin web UI's authentication: server-side
// sessions, CSRF tokens bound to a session, constant-time credential checks
// and a per-client login rate limiter.
//
// Sessions are rows in the database (SessionStore): the cookie holds only
// a random secret, and the database only a keyed SHA-256 of it, so a
// logout, an expiry or a revocation holds on every replica and across
// restarts, and a copy of the database logs nobody in. The hash is keyed
// with a key derived from the admin token, so rotating the token still
// logs everybody out, which is what an operator who rotates it after a
// leak wants.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// DefaultCookieName is the session cookie's name unless Config says otherwise.
const DefaultCookieName = "connecthub_session"

// CSRFHeader is the request header that carries the CSRF token on requests
// made by scripts (htmx, fetch); HTML forms send the CSRFField form field.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// secretBytes is the size of a cookie's random secret: 256 bits, beyond
// any guessing; its base64url form is cookieLen characters.
const (
	secretBytes = 32
	cookieLen   = 43
)

// Bounds of what a session records about its browser, so that a client
// cannot fill the table with long headers.
const (
	maxUserAgent = 256
	maxClient    = 64
)

// Errors returned by Verify. They are deliberately vague to the client (the
// UI just asks the person to log in again) but distinct for logs and tests.
var (
	ErrNoSession = errors.New("auth: no session cookie")
	ErrInvalid   = errors.New("auth: session cookie is malformed or names no session")
	ErrExpired   = errors.New("auth: session expired")
	ErrRevoked   = errors.New("auth: session was logged out or revoked")
)

// SessionStore keeps the sessions; store.Store implements it.
type SessionStore interface {
	SessionCreate(ctx context.Context, s *connecthub.Session) error
	SessionByHash(ctx context.Context, hash string) (*connecthub.Session, error)
	SessionRevoke(ctx context.Context, id string, now time.Time) error
	SessionTouch(ctx context.Context, id string, now time.Time) error
}

// Config configures a Manager.
type Config struct {
	// Secret is the admin token. The cookie hash and CSRF keys are derived
	// from it, so sessions do not survive a change of the token. Required.
	Secret string
	// TTL is how long a session lasts after login. Required, > 0.
	TTL time.Duration
	// Store keeps the sessions. Required.
	Store SessionStore
	// CookieName defaults to DefaultCookieName.
	CookieName string
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
}

// Session is a verified login.
type Session struct {
	// ID names the session in the database and the API; the CSRF token is
	// bound to it. It is not the cookie's secret.
	ID        string
	User      string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// BreakGlass marks a login with the bootstrap credentials: an admin
	// without a user row. Any other session acts with its user's role.
	BreakGlass bool
}

// Manager issues and verifies session cookies and CSRF tokens. It is safe
// for concurrent use.
type Manager struct {
	hashKey []byte
	csrfKey []byte
	ttl     time.Duration
	store   SessionStore
	cookie  string
	now     func() time.Time
}

// NewManager checks cfg and returns a Manager.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Secret == "" {
		return nil, errors.New("auth: Secret (the admin token) is required")
	}
	if cfg.TTL <= 0 {
		return nil, fmt.Errorf("auth: TTL must be positive, got %s", cfg.TTL)
	}
	if cfg.Store == nil {
		return nil, errors.New("auth: Store (where sessions are kept) is required")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{
		hashKey: derive(cfg.Secret, "connecthub/admin-session-hash/v2"),
		csrfKey: derive(cfg.Secret, "connecthub/admin-csrf/v1"),
		ttl:     cfg.TTL,
		store:   cfg.Store,
		cookie:  cfg.CookieName,
		now:     cfg.Now,
	}, nil
}

// derive makes a purpose-specific key from the admin token, so that a value
// made for one purpose (a session hash) can never pass as another (a CSRF
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

// hash is what the database keeps of a cookie's secret: an HMAC-SHA-256
// keyed by the admin token, hex-encoded.
func (m *Manager) hash(value string) string {
	mac := hmac.New(sha256.New, m.hashKey)
	mac.Write([]byte(value))
	return hex.EncodeToString(mac.Sum(nil))
}

// Issue starts a break-glass session (the bootstrap login) for user, like
// IssueFor.
func (m *Manager) Issue(ctx context.Context, user, client, userAgent string) (*Session, string, error) {
	return m.IssueFor(ctx, user, true, client, userAgent)
}

// IssueFor starts a session for user, recording the client address and
// the browser's user agent that the session list shows, and returns it
// with the cookie value. breakGlass marks the bootstrap login.
func (m *Manager) IssueFor(ctx context.Context, user string, breakGlass bool, client, userAgent string) (*Session, string, error) {
	id, err := RandomToken(12)
	if err != nil {
		return nil, "", err
	}
	value, err := RandomToken(secretBytes)
	if err != nil {
		return nil, "", err
	}
	now := m.now().UTC()
	row := &connecthub.Session{ID: "ses_" + id, User: user, Hash: m.hash(value), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(m.ttl), Client: clipText(client, maxClient), UserAgent: clipText(userAgent, maxUserAgent),
		BreakGlass: breakGlass}
	if err := m.store.SessionCreate(ctx, row); err != nil {
		return nil, "", fmt.Errorf("auth: cannot store the session: %w", err)
	}
	return sessionOf(row), value, nil
}

// clipText bounds s to n bytes of valid UTF-8.
func clipText(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

func sessionOf(row *connecthub.Session) *Session {
	return &Session{ID: row.ID, User: row.User, IssuedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt, BreakGlass: row.BreakGlass}
}

// Verify looks a cookie value up, then checks its revocation and expiry,
// and records the session's activity (at most one write a minute). A
// value that cannot be a cookie of ours costs no lookup.
func (m *Manager) Verify(ctx context.Context, value string) (*Session, error) {
	if value == "" {
		return nil, ErrNoSession
	}
	if len(value) != cookieLen {
		return nil, ErrInvalid
	}
	if _, err := base64.RawURLEncoding.DecodeString(value); err != nil {
		return nil, ErrInvalid
	}
	row, err := m.store.SessionByHash(ctx, m.hash(value))
	switch {
	case connecthub.IsKind(err, connecthub.KindNotFound):
		return nil, ErrInvalid
	case err != nil:
		return nil, fmt.Errorf("auth: cannot read the session: %w", err)
	}
	now := m.now()
	if row.RevokedAt != nil {
		return nil, ErrRevoked
	}
	if !now.Before(row.ExpiresAt) {
		return nil, ErrExpired
	}
	// Last-seen is informational: a failed write must not log anybody out.
	_ = m.store.SessionTouch(ctx, row.ID, now)
	return sessionOf(row), nil
}

// FromRequest verifies the request's session cookie.
func (m *Manager) FromRequest(r *http.Request) (*Session, error) {
	c, err := r.Cookie(m.cookie)
	if err != nil {
		return nil, ErrNoSession
	}
	return m.Verify(r.Context(), c.Value)
}

// Revoke ends a session before its expiry (logout), in the database, so
// that its cookie is refused by every replica and after a restart. A nil
// session is ignored.
func (m *Manager) Revoke(ctx context.Context, s *Session) error {
	if s == nil {
		return nil
	}
	err := m.store.SessionRevoke(ctx, s.ID, m.now())
	if connecthub.IsKind(err, connecthub.KindNotFound) {
		return nil // already gone: what a logout wants
	}
	return err
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

// Check implements the API's session checker: the session of the
// request's valid session cookie, and csrfOK when the request also carries
// that session's CSRF token in the X-CSRF-Token header. err says why there
// is no session (ErrNoSession without a cookie), so that the caller can
// count a forged cookie as a failed attempt (CountsAsFailure).
func (m *Manager) Check(r *http.Request) (s *Session, csrfOK bool, err error) {
	s, err = m.FromRequest(r)
	if err != nil {
		return nil, false, err
	}
	return s, m.CheckCSRF(s, r.Header.Get(CSRFHeader)), nil
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
