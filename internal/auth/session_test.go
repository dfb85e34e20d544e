package auth_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/auth"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/testenv"
)

// newClock is the settable clock shared by a Manager or Limiter and its
// test.
func newClock() *clock.Fake { return testenv.Clock() }

// memSessions is a SessionStore in memory, keeping the store's rules that
// the Manager relies on (lookup by hash, revocation kept, touch counted).
type memSessions struct {
	mu      sync.Mutex
	rows    map[string]*connecthub.Session // by hash
	touches int
}

func newMemSessions() *memSessions { return &memSessions{rows: map[string]*connecthub.Session{}} }

func (m *memSessions) SessionCreate(_ context.Context, s *connecthub.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *s
	m.rows[s.Hash] = &c
	return nil
}

func (m *memSessions) SessionByHash(_ context.Context, hash string) (*connecthub.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.rows[hash]
	if !ok {
		return nil, connecthub.Errorf(connecthub.KindNotFound, "no session has this secret")
	}
	c := *s
	return &c, nil
}

func (m *memSessions) SessionRevoke(_ context.Context, id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.rows {
		if s.ID == id {
			if s.RevokedAt == nil {
				s.RevokedAt = &now
			}
			return nil
		}
	}
	return connecthub.NotFound("session", id)
}

func (m *memSessions) SessionTouch(context.Context, string, time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.touches++
	return nil
}

func newManager(t *testing.T, secret string, clk *clock.Fake) *auth.Manager {
	t.Helper()
	return newManagerOn(t, secret, clk, newMemSessions())
}

func newManagerOn(t *testing.T, secret string, clk *clock.Fake, st auth.SessionStore) *auth.Manager {
	t.Helper()
	m, err := auth.NewManager(auth.Config{Secret: secret, TTL: time.Hour, Now: clk.Now, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// issue starts a session for admin and fails the test on an error.
func issue(t *testing.T, m *auth.Manager) (*auth.Session, string) {
	t.Helper()
	s, value, err := m.Issue(t.Context(), "admin", "192.0.2.1", "test-agent")
	if err != nil {
		t.Fatal(err)
	}
	return s, value
}

func TestNewManagerRejectsBadConfig(t *testing.T) {
	t.Parallel()
	st := newMemSessions()
	for _, tc := range []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"no secret", auth.Config{TTL: time.Hour, Store: st}, "Secret"},
		{"zero ttl", auth.Config{Secret: "x", Store: st}, "TTL"},
		{"negative ttl", auth.Config{Secret: "x", TTL: -time.Second, Store: st}, "TTL"},
		{"no store", auth.Config{Secret: "x", TTL: time.Hour}, "Store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.NewManager(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestSessionRoundTripAndExpiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	st := newMemSessions()
	m := newManagerOn(t, "token-1", clk, st)
	s, value := issue(t, m)
	if !s.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("expires %s, want now+1h", s.ExpiresAt)
	}
	got, err := m.Verify(t.Context(), value)
	if err != nil {
		t.Fatalf("fresh cookie: %v", err)
	}
	if got.User != "admin" || got.ID != s.ID {
		t.Errorf("verified %+v, issued %+v", got, s)
	}
	// The database never holds the cookie's secret.
	for hash, row := range st.rows {
		if strings.Contains(hash, value) || row.ID == value || row.Client != "192.0.2.1" || row.UserAgent != "test-agent" {
			t.Errorf("stored row %+v under %q for cookie %q", row, hash, value)
		}
	}

	clk.Advance(59*time.Minute + 59*time.Second)
	if _, err := m.Verify(t.Context(), value); err != nil {
		t.Fatalf("one second before expiry: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := m.Verify(t.Context(), value); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("at expiry: got %v, want ErrExpired", err)
	}
	if st.touches != 2 {
		t.Errorf("%d touches, want one per successful verification", st.touches)
	}
}

func TestSessionIDsDiffer(t *testing.T) {
	t.Parallel()
	m := newManager(t, "token-1", newClock())
	a, va := issue(t, m)
	b, vb := issue(t, m)
	if a.ID == b.ID || va == vb {
		t.Fatal("two logins got the same session id or cookie")
	}
	if a.ID == va {
		t.Fatal("the session id is the cookie's secret")
	}
	if m.CSRFToken(a) == m.CSRFToken(b) {
		t.Fatal("two sessions share a CSRF token")
	}
}

func TestSessionForgeryIsRejected(t *testing.T) {
	t.Parallel()
	clk := newClock()
	st := newMemSessions()
	m := newManagerOn(t, "token-1", clk, st)
	s, value := issue(t, m)
	flipped := []byte(value)
	flipped[0] ^= 1

	for _, tc := range []struct {
		name  string
		value string
		want  error
	}{
		{"empty", "", auth.ErrNoSession},
		{"one bit off", string(flipped), auth.ErrInvalid},
		{"not base64", strings.Repeat("!", len(value)), auth.ErrInvalid},
		{"truncated", value[:10], auth.ErrInvalid},
		{"the session id", s.ID, auth.ErrInvalid},
		{"old signed format", "eyJ2IjoxfQ.c2ln", auth.ErrInvalid},
		{"huge", strings.Repeat("a", 5000), auth.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := m.Verify(t.Context(), tc.value); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("issued under another admin token", func(t *testing.T) {
		t.Parallel()
		// Same database, rotated token: everybody is logged out.
		other := newManagerOn(t, "token-2", clk, st)
		if _, err := other.Verify(t.Context(), value); !errors.Is(err, auth.ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})
}

func TestRevokeHoldsForEveryManagerOnTheStore(t *testing.T) {
	t.Parallel()
	clk := newClock()
	st := newMemSessions()
	m := newManagerOn(t, "token-1", clk, st)
	s1, v1 := issue(t, m)
	_, v2 := issue(t, m)
	if err := m.Revoke(t.Context(), s1); err != nil {
		t.Fatal(err)
	}
	if err := m.Revoke(t.Context(), nil); err != nil { // harmless
		t.Fatal(err)
	}
	if err := m.Revoke(t.Context(), &auth.Session{ID: "ses_gone"}); err != nil { // already gone: fine
		t.Fatal(err)
	}
	// A restarted process or another replica: a new Manager on the same store.
	restarted := newManagerOn(t, "token-1", clk, st)
	for name, mgr := range map[string]*auth.Manager{"same": m, "restarted": restarted} {
		if _, err := mgr.Verify(t.Context(), v1); !errors.Is(err, auth.ErrRevoked) || auth.CountsAsFailure(err) {
			t.Fatalf("%s manager, revoked session: got %v, want ErrRevoked, not counted", name, err)
		}
		if _, err := mgr.Verify(t.Context(), v2); err != nil {
			t.Fatalf("%s manager, other session: %v", name, err)
		}
	}
}

func TestCSRFToken(t *testing.T) {
	t.Parallel()
	m := newManager(t, "token-1", newClock())
	s, _ := issue(t, m)
	tok := m.CSRFToken(s)
	if !m.CheckCSRF(s, tok) {
		t.Fatal("own token refused")
	}
	other, _ := issue(t, m)
	for name, bad := range map[string]string{
		"empty":         "",
		"other session": m.CSRFToken(other),
		"truncated":     tok[:len(tok)-1],
		"session id":    s.ID,
	} {
		if m.CheckCSRF(s, bad) {
			t.Errorf("%s token accepted", name)
		}
	}
	if m.CheckCSRF(nil, tok) {
		t.Error("token accepted without a session")
	}
	m2 := newManager(t, "token-2", newClock())
	if m2.CheckCSRF(s, tok) {
		t.Error("token accepted by a server with another admin token")
	}
}

func TestCheckRequest(t *testing.T) {
	t.Parallel()
	m := newManager(t, "token-1", newClock())
	s, value := issue(t, m)
	cookie := &http.Cookie{Name: m.CookieName(), Value: value}
	for _, tc := range []struct {
		name       string
		cookie     *http.Cookie
		csrf       string
		ok, csrfOK bool
		failure    bool // counts as a failed attempt
	}{
		{"no cookie", nil, "", false, false, false},
		{"cookie only", cookie, "", true, false, false},
		{"cookie and token", cookie, m.CSRFToken(s), true, true, false},
		{"cookie and wrong token", cookie, "nope", true, false, false},
		{"bad cookie with token", &http.Cookie{Name: m.CookieName(), Value: "x.y"}, m.CSRFToken(s), false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/api/v1/jobs", nil)
			if tc.cookie != nil {
				r.AddCookie(tc.cookie)
			}
			if tc.csrf != "" {
				r.Header.Set(auth.CSRFHeader, tc.csrf)
			}
			got, csrfOK, err := m.Check(r)
			if ok := got != nil; ok != tc.ok || csrfOK != tc.csrfOK {
				t.Fatalf("Check = %v, %v; want a session %v, %v", got, csrfOK, tc.ok, tc.csrfOK)
			}
			if got := auth.CountsAsFailure(err); got != tc.failure {
				t.Fatalf("CountsAsFailure(%v) = %v, want %v", err, got, tc.failure)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	m := newManager(t, "token-1", newClock())
	s, value := issue(t, m)
	for _, tc := range []struct {
		name       string
		setup      func(r *http.Request)
		wantSecure bool
	}{
		{"plain http", func(*http.Request) {}, false},
		{"tls", func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, true},
		{"behind https proxy", func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/admin/login", nil)
			tc.setup(r)
			w := httptest.NewRecorder()
			m.SetCookie(w, r, value, s)
			cookies := w.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("got %d cookies", len(cookies))
			}
			c := cookies[0]
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tc.wantSecure {
				t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, Path=/, Secure=%v", c, tc.wantSecure)
			}
			if c.MaxAge != 3600 {
				t.Errorf("MaxAge %d, want 3600", c.MaxAge)
			}

			w = httptest.NewRecorder()
			m.ClearCookie(w, r)
			if c := w.Result().Cookies()[0]; c.MaxAge >= 0 || c.Value != "" {
				t.Errorf("clear cookie %+v: want MaxAge<0 and empty value", c)
			}
		})
	}
}

func TestCredentialsMatch(t *testing.T) {
	t.Parallel()
	c := auth.Credentials{Username: "admin", Password: "s3cret"}
	for _, tc := range []struct {
		user, pass string
		want       bool
	}{
		{"admin", "s3cret", true},
		{"admin", "s3cret ", false},
		{"Admin", "s3cret", false},
		{"admin", "", false},
		{"", "s3cret", false},
		{"root", "s3cret", false},
	} {
		if got := c.Match(tc.user, tc.pass); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.user, tc.pass, got, tc.want)
		}
	}
	if (auth.Credentials{Username: "admin"}).Match("admin", "") {
		t.Error("an empty configured password must never match")
	}
}
