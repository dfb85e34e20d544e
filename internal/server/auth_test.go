package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/testenv"
)

const nodeToken = "node-test-admin-token-0123456789"

// node is a server.Server running on a random port of 127.0.0.1.
type node struct {
	t    *testing.T
	url  string
	logs *testenv.Buffer
	srv  *server.Server
}

// testConfig is a valid configuration of a node on a fresh data directory.
func testConfig(t *testing.T, dataDir string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.DBURL, cfg.FernetKeyPath = "", ""
	cfg.WithDefaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.Workers = 2
	cfg.AdminToken = config.Secret(nodeToken)
	return cfg
}

// startNode runs a node with cfg, its built-in handlers and extra, until
// the test ends.
func startNode(t *testing.T, cfg *config.Config, extra ...handler.Spec) *node {
	t.Helper()
	n, stop := startStoppableNode(t, cfg, extra...)
	t.Cleanup(stop)
	return n
}

// startStoppableNode runs a node with cfg and returns it with a function
// that stops it and waits until it has (safe to call twice), for tests
// that restart a node on the same data directory.
func startStoppableNode(t *testing.T, cfg *config.Config, extra ...handler.Spec) (*node, func()) {
	t.Helper()
	return startStoppableNodeWith(t, cfg, server.Options{}, extra...)
}

// startStoppableNodeWith is startStoppableNode with options; the built-in
// handlers, extra and a log kept in memory are filled in.
func startStoppableNodeWith(t *testing.T, cfg *config.Config, opts server.Options, extra ...handler.Spec) (*node, func()) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := handler.NewRegistry()
	if err := builtin.Register(reg, builtin.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, h := range extra {
		if err := reg.Add(h); err != nil {
			t.Fatal(err)
		}
	}
	logs := &testenv.Buffer{}
	opts.Handlers, opts.LogOutput = reg, logs
	srv, err := server.New(t.Context(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Error("the node did not stop")
			}
		})
	}
	select {
	case <-srv.Ready():
	case err := <-done:
		stop()
		t.Fatalf("Run returned before ready: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		stop()
		t.Fatal("the node never became ready")
	}
	return &node{t: t, url: "http://" + srv.Addr(), logs: logs, srv: srv}, stop
}

// clientFrom returns an HTTP client whose connections come from the local
// address ip (any of 127.0.0.0/8 reaches the node on Linux), with a cookie
// jar, not following redirects.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// get sends GET path with headers (name, value pairs) and returns the
// response with its body read.
func (n *node) get(c *http.Client, path string, headers ...string) (*http.Response, string) {
	n.t.Helper()
	return n.send(c, n.request(http.MethodGet, path, "", headers...))
}

// request builds a request with a body and headers (name, value pairs).
func (n *node) request(method, path, body string, headers ...string) *http.Request {
	n.t.Helper()
	req, err := http.NewRequest(method, n.url+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return req
}

func (n *node) send(c *http.Client, req *http.Request) (*http.Response, string) {
	n.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	return resp, string(body)
}

var nonceRe = regexp.MustCompile(`name="login_nonce" value="([^"]+)"`)

// login submits the admin login form as the bootstrap user and returns
// the response status.
func (n *node) login(c *http.Client, password string) int {
	n.t.Helper()
	return n.loginAs(c, "admin", password)
}

// loginAs submits the admin login form and returns the response status.
func (n *node) loginAs(c *http.Client, user, password string) int {
	n.t.Helper()
	_, page := n.get(c, "/admin/login")
	m := nonceRe.FindStringSubmatch(page)
	if m == nil {
		n.t.Fatalf("no login nonce in the login page:\n%s", page)
	}
	form := url.Values{"username": {user}, "password": {password}, "login_nonce": {m[1]}, "next": {"/admin/"}}
	req, err := http.NewRequest(http.MethodPost, n.url+"/admin/login", strings.NewReader(form.Encode()))
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ := n.send(c, req)
	return resp.StatusCode
}

// TestWrongBearerTokensAreRateLimited is finding 7: 3,000 wrong tokens got
// 3,000 × 401 with no log line. Now the 6th wrong token from one address
// is a 429 with Retry-After, even a right one from that address is refused
// until the budget refills (so a guesser learns nothing), another address
// is not affected, every failure is logged without the token and counted,
// and the admin UI's login shares the budget.
func TestWrongBearerTokensAreRateLimited(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	attacker, other := clientFrom(t, "127.0.0.1"), clientFrom(t, "127.0.0.2")
	const wrong = "wrong-token-guess-0123456789"
	for i := range 5 {
		if resp, body := n.get(attacker, "/api/v1/jobs", "Authorization", "Bearer "+wrong); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := n.get(attacker, "/api/v1/jobs", "Authorization", "Bearer "+wrong)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "too_many_attempts") {
		t.Fatalf("6th wrong token: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := n.get(attacker, "/api/v1/jobs", "Authorization", "Bearer "+nodeToken); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right token from the limited address: %d, want 429 (no oracle for a guesser)", resp.StatusCode)
	}
	if resp, body := n.get(other, "/api/v1/jobs", "Authorization", "Bearer "+nodeToken); resp.StatusCode != http.StatusOK {
		t.Errorf("right token from another address: %d %s", resp.StatusCode, body)
	}
	// The UI password defaults to the admin token: the login form is
	// limited too, by the failures on the API.
	if code := n.login(attacker, nodeToken); code != http.StatusTooManyRequests {
		t.Errorf("login from the limited address: %d, want 429", code)
	}
	if code := n.login(other, nodeToken); code != http.StatusSeeOther {
		t.Errorf("login from another address: %d, want 303", code)
	}
	logs := n.logs.String()
	if got := strings.Count(logs, "authentication failed"); got != 5 {
		t.Errorf("%d failure log lines, want 5:\n%s", got, logs)
	}
	if !strings.Contains(logs, "kind=bearer") || !strings.Contains(logs, "client=127.0.0.1") {
		t.Errorf("the failure lines lack kind or client:\n%s", logs)
	}
	if strings.Contains(logs, wrong) {
		t.Error("the log holds the wrong token")
	}
	_, metrics := n.get(other, "/metrics")
	for _, want := range []string{`connecthub_auth_failures_total{kind="bearer"} 5`, `connecthub_auth_failures_total{kind="login"} 0`,
		`connecthub_auth_rate_limited_total{kind="bearer"} 2`, `connecthub_auth_rate_limited_total{kind="login"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestLoginFailuresLimitTheAPI is the other direction: wrong passwords on
// the login page use up the budget the API draws on.
func TestLoginFailuresLimitTheAPI(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	c := clientFrom(t, "127.0.0.3")
	for i := range 5 {
		if code := n.login(c, "not-the-password-0123"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, code)
		}
	}
	if resp, _ := n.get(c, "/api/v1/jobs", "Authorization", "Bearer wrong-token-guess-0123456789"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("bearer after 5 wrong passwords: %d, want 429", resp.StatusCode)
	}
}

// TestForgedSessionCookiesAreCounted: session cookies that name no session
// count as failures, on the API and on the admin pages alike,
// and use up the budget the login form draws on.
func TestForgedSessionCookiesAreCounted(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	c := clientFrom(t, "127.0.0.8")
	forged := "Y29ubmVjdGh1Yg.c2lnbmF0dXJl"
	for i, path := range []string{"/api/v1/jobs", "/admin/", "/api/v1/runs", "/admin/jobs", "/api/v1/jobs"} {
		resp, _ := n.get(c, path, "Cookie", "connecthub_session="+forged)
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("forged cookie %d on %s: %d", i+1, path, resp.StatusCode)
		}
	}
	if code := n.login(c, nodeToken); code != http.StatusTooManyRequests {
		t.Errorf("login after 5 forged cookies: %d, want 429", code)
	}
	// No cookie at all costs nothing.
	fresh := clientFrom(t, "127.0.0.9")
	for range 10 {
		n.get(fresh, "/api/v1/jobs")
	}
	if code := n.login(fresh, nodeToken); code != http.StatusSeeOther {
		t.Errorf("login after 10 requests without credentials: %d, want 303", code)
	}
	if _, metrics := n.get(fresh, "/metrics"); !strings.Contains(metrics, `connecthub_auth_failures_total{kind="session"} 5`) {
		t.Error(`/metrics lacks connecthub_auth_failures_total{kind="session"} 5`)
	}
}

// TestTrustedProxies checks X-Forwarded-For handling: behind a trusted
// proxy two clients have budgets of their own, and a forged left part of
// the header does not help; from an untrusted peer the header is ignored.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	exhaust := func(n *node, c *http.Client, xff string) {
		t.Helper()
		for range 5 {
			n.get(c, "/api/v1/jobs", "Authorization", "Bearer wrong-token-guess-0123456789", "X-Forwarded-For", xff)
		}
	}
	status := func(n *node, c *http.Client, xff string) int {
		t.Helper()
		resp, _ := n.get(c, "/api/v1/jobs", "Authorization", "Bearer "+nodeToken, "X-Forwarded-For", xff)
		return resp.StatusCode
	}
	t.Run("behind a trusted proxy", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(t, t.TempDir())
		cfg.TrustedProxies = []string{"127.0.0.0/8"}
		n := startNode(t, cfg)
		proxy := clientFrom(t, "127.0.0.4")
		exhaust(n, proxy, "198.51.100.1")
		if got := status(n, proxy, "198.51.100.1"); got != http.StatusTooManyRequests {
			t.Errorf("limited client through the proxy: %d, want 429", got)
		}
		if got := status(n, proxy, "198.51.100.1, 127.0.0.9"); got != http.StatusTooManyRequests {
			t.Errorf("limited client through two proxies: %d, want 429", got)
		}
		if got := status(n, proxy, "203.0.113.5, 198.51.100.1"); got != http.StatusTooManyRequests {
			t.Errorf("limited client with a forged left part: %d, want 429", got)
		}
		if got := status(n, proxy, "198.51.100.2"); got != http.StatusOK {
			t.Errorf("another client through the same proxy: %d, want 200", got)
		}
	})
	t.Run("an untrusted X-Forwarded-For is ignored", func(t *testing.T) {
		t.Parallel()
		n := startNode(t, testConfig(t, t.TempDir()))
		c := clientFrom(t, "127.0.0.5")
		exhaust(n, c, "198.51.100.1")
		if got := status(n, c, "198.51.100.2"); got != http.StatusTooManyRequests {
			t.Errorf("a new X-Forwarded-For from the limited peer: %d, want 429", got)
		}
	})
}

// TestProcStopNeedsBearer is finding 9: a session cookie plus a
// browser-added Authorization: Basic header on a cross-site GET paused the
// worker pool. Now proc stop and start need a valid Bearer token.
func TestProcStopNeedsBearer(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	browser := clientFrom(t, "127.0.0.6")
	if code := n.login(browser, nodeToken); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	crossSite := []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Origin", "https://evil.example"}
	for _, tc := range []struct {
		name    string
		headers []string
	}{
		{"session cookie and Basic credentials", append([]string{"Authorization", "Basic YWRtaW46c2VjcmV0"}, crossSite...)},
		{"session cookie and a wrong Bearer token", append([]string{"Authorization", "Bearer wrong-token-guess-0123456789"}, crossSite...)},
		{"session cookie and an empty Bearer", append([]string{"Authorization", "Bearer "}, crossSite...)},
		{"session cookie alone", crossSite},
	} {
		for _, path := range []string{"/api/v1/proc/stop", "/api/v1/proc/start"} {
			if resp, body := n.get(browser, path, tc.headers...); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "token_required") {
				t.Errorf("%s, GET %s: %d %s, want 403 token_required", tc.name, path, resp.StatusCode, body)
			}
		}
	}
	if _, body := n.get(browser, "/api/v1/proc/status"); !strings.Contains(body, `"status":"RUNNING"`) {
		t.Fatalf("the pool is not running after the attack: %s", body)
	}
	api := clientFrom(t, "127.0.0.7")
	if resp, body := n.get(api, "/api/v1/proc/stop", "Authorization", "Bearer "+nodeToken); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"paused":true`) {
		t.Errorf("stop with the admin token: %d %s", resp.StatusCode, body)
	}
	if resp, body := n.get(api, "/api/v1/proc/start", "Authorization", "Bearer "+nodeToken); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"RUNNING"`) {
		t.Errorf("start with the admin token: %d %s", resp.StatusCode, body)
	}
}

// TestShortAdminTokenFileRefused: a hand-written admin.token shorter than
// 16 characters stops the node with a message that says so.
func TestShortAdminTokenFileRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.AdminToken = ""
	if err := os.WriteFile(cfg.AdminTokenPath(), []byte("short-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := server.New(t.Context(), cfg, server.Options{LogOutput: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "at least 16 characters") {
		t.Fatalf("New = %v, want an error about 16 characters", err)
	}
}
