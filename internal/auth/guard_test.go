package auth_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub/internal/auth"
)

func TestGuardClient(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/64")}
	g, err := auth.NewGuard(auth.GuardConfig{TrustedProxies: proxies})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct client", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"an untrusted peer's X-Forwarded-For is ignored", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy names the client", "10.1.1.1:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a forged left part is skipped", "10.1.1.1:443", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"proxies in a chain are skipped", "10.1.1.1:443", []string{"198.51.100.1, 10.2.2.2", "10.3.3.3"}, "198.51.100.1"},
		{"every hop trusted: the left-most", "10.1.1.1:443", []string{"10.2.2.2, 10.3.3.3"}, "10.2.2.2"},
		{"trusted proxy without the header", "10.1.1.1:443", nil, "10.1.1.1"},
		{"hop with a port", "10.1.1.1:443", []string{"198.51.100.1:61000"}, "198.51.100.1"},
		{"IPv6 hop with a port", "10.1.1.1:443", []string{"[2001:db8::1]:443"}, "2001:db8::/64"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.7]:5000", nil, "203.0.113.7"},
		{"IPv6 clients share their /64", "[2001:db8:0:1:aaaa::1]:5000", nil, "2001:db8:0:1::/64"},
		{"trusted IPv6 proxy", "[fd00::5]:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"junk written by a trusted proxy is clipped", "10.1.1.1:443", []string{strings.Repeat("x", 100)}, strings.Repeat("x", 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/api/v1/jobs", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := g.Client(r); got != tc.want {
				t.Errorf("Client = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGuardBudget(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var logs bytes.Buffer
	g, err := auth.NewGuard(auth.GuardConfig{Limit: auth.LimiterConfig{Burst: 5, Every: 12 * time.Second, Now: clk.Now},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/jobs", nil)
	kinds := []string{auth.KindBearer, auth.KindSession, auth.KindLogin, auth.KindBearer, auth.KindLogin}
	for i, kind := range kinds {
		if blocked, _ := g.Blocked("a", kind); blocked {
			t.Fatalf("blocked before failure %d", i+1)
		}
		g.Fail(r, "a", kind)
	}
	// Five failures of any kinds use up one budget.
	blocked, wait := g.Blocked("a", auth.KindLogin)
	if !blocked || wait != 12*time.Second {
		t.Fatalf("after 5 failures: blocked=%v wait=%s, want blocked for 12s", blocked, wait)
	}
	if blocked, _ := g.Blocked("b", auth.KindBearer); blocked {
		t.Error("another client is blocked")
	}
	if got := g.Failures(auth.KindBearer) + g.Failures(auth.KindSession) + g.Failures(auth.KindLogin); got != 5 {
		t.Errorf("failures counted: %v, want 5", got)
	}
	if g.Failures(auth.KindLogin) != 2 || g.RateLimited(auth.KindLogin) != 1 {
		t.Errorf("login: failures %v, rate limited %v; want 2, 1", g.Failures(auth.KindLogin), g.RateLimited(auth.KindLogin))
	}
	if n := strings.Count(logs.String(), "authentication failed"); n != 5 {
		t.Errorf("%d failure lines, want 5:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "client rate limited"); n != 1 {
		t.Errorf("%d rate-limited lines, want 1:\n%s", n, logs.String())
	}
	clk.Advance(12 * time.Second)
	if blocked, _ := g.Blocked("a", auth.KindBearer); blocked {
		t.Error("still blocked after earning an attempt")
	}
	g.Succeeded("a")
	for range 4 {
		g.Fail(r, "a", auth.KindLogin)
	}
	if blocked, _ := g.Blocked("a", auth.KindLogin); blocked {
		t.Error("Succeeded did not restore the full budget")
	}
}

func TestLimiterPeekTakesNothing(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := newLimiter(t, clk, 0)
	for range 10 {
		if ok, _ := l.Peek("a"); !ok {
			t.Fatal("Peek refused a fresh client")
		}
	}
	for range 3 {
		l.Allow("a")
	}
	if ok, wait := l.Peek("a"); ok || wait != 10*time.Second {
		t.Fatalf("Peek after the burst = %v, %s; want false, 10s", ok, wait)
	}
	if l.Len() != 1 {
		t.Errorf("Len = %d, want 1 (Peek must not track clients)", l.Len())
	}
}
