package auth_test

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub/internal/auth"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/testenv"
)

// newClock is the settable clock shared by a Manager or Limiter and its
// test.
func newClock() *clock.Fake { return testenv.Clock() }

func newManager(t *testing.T, secret string, clk *clock.Fake) *auth.Manager {
	t.Helper()
	m, err := auth.NewManager(auth.Config{Secret: secret, TTL: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewManagerRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"no secret", auth.Config{TTL: time.Hour}, "Secret"},
		{"zero ttl", auth.Config{Secret: "x"}, "TTL"},
		{"negative ttl", auth.Config{Secret: "x", TTL: -time.Second}, "TTL"},
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
	m := newManager(t, "token-1", clk)
	s, value, err := m.Issue("admin")
	if err != nil {
		t.Fatal(err)
	}
	if !s.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("expires %s, want now+1h", s.ExpiresAt)
	}
	got, err := m.Verify(value)
	if err != nil {
		t.Fatalf("fresh cookie: %v", err)
	}
	if got.User != "admin" || got.ID != s.ID {
		t.Errorf("verified %+v, issued %+v", got, s)
	}

	clk.Advance(59*time.Minute + 59*time.Second)
	if _, err := m.Verify(value); err != nil {
		t.Fatalf("one second before expiry: %v", err)
	}
	clk.Advance(time.Second)
	if _, err := m.Verify(value); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("at expiry: got %v, want ErrExpired", err)
	}
}

func TestSessionIDsDiffer(t *testing.T) {
	t.Parallel()
	m := newManager(t, "token-1", newClock())
	a, _, _ := m.Issue("admin")
	b, _, _ := m.Issue("admin")
	if a.ID == b.ID {
		t.Fatal("two logins got the same session id")
	}
	if m.CSRFToken(a) == m.CSRFToken(b) {
		t.Fatal("two sessions share a CSRF token")
	}
}

func TestSessionTamperingIsRejected(t *testing.T) {
	t.Parallel()
	clk := newClock()
	m := newManager(t, "token-1", clk)
	_, value, err := m.Issue("admin")
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(value, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	// Extend the expiry by a year without re-signing.
	longer := strings.Replace(string(raw), `"exp":`, `"exp":1`, 1)
	flipped := []byte(sig)
	flipped[0] ^= 1

	for _, tc := range []struct {
		name  string
		value string
		want  error
	}{
		{"empty", "", auth.ErrNoSession},
		{"no dot", body + sig, auth.ErrInvalid},
		{"edited payload", base64.RawURLEncoding.EncodeToString([]byte(longer)) + "." + sig, auth.ErrInvalid},
		{"flipped signature bit", body + "." + string(flipped), auth.ErrInvalid},
		{"signature not base64", body + ".!!!", auth.ErrInvalid},
		{"truncated signature", body + "." + sig[:10], auth.ErrInvalid},
		{"huge", strings.Repeat("a", 5000), auth.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := m.Verify(tc.value); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("signed with another admin token", func(t *testing.T) {
		t.Parallel()
		other := newManager(t, "token-2", clk)
		if _, err := other.Verify(value); !errors.Is(err, auth.ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})
}

func TestSessionFromTheFutureIsRejected(t *testing.T) {
	t.Parallel()
	clk := newClock()
	m := newManager(t, "token-1", clk)
	_, value, _ := m.Issue("admin")
	// The verifying replica's clock is two minutes behind the issuer's.
	behind := testenv.ClockAt(clk.Now().Add(-2 * time.Minute))
	m2 := newManager(t, "token-1", behind)
	if _, err := m2.Verify(value); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid for a cookie issued 2 minutes ahead", err)
	}
	// Within the tolerated skew it passes.
	behind.Advance(90 * time.Second)
	if _, err := m2.Verify(value); err != nil {
		t.Fatalf("30s skew: %v", err)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	clk := newClock()
	m := newManager(t, "token-1", clk)
	s1, v1, _ := m.Issue("admin")
	_, v2, _ := m.Issue("admin")
	m.Revoke(s1)
	m.Revoke(nil) // harmless
	if _, err := m.Verify(v1); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("revoked session: got %v", err)
	}
	if _, err := m.Verify(v2); err != nil {
		t.Fatalf("other session: %v", err)
	}
}

func TestCSRFToken(t *testing.T) {
	t.Parallel()
	m := newManager(t, "token-1", newClock())
	s, _, _ := m.Issue("admin")
	tok := m.CSRFToken(s)
	if !m.CheckCSRF(s, tok) {
		t.Fatal("own token refused")
	}
	other, _, _ := m.Issue("admin")
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
	s, value, _ := m.Issue("admin")
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
			ok, csrfOK, err := m.Check(r)
			if ok != tc.ok || csrfOK != tc.csrfOK {
				t.Fatalf("Check = %v, %v; want %v, %v", ok, csrfOK, tc.ok, tc.csrfOK)
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
	s, value, _ := m.Issue("admin")
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
