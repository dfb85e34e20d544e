package auth

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Kinds of failed authentication attempts, the values of the kind label of
// connecthub_auth_failures_total.
const (
	KindBearer  = "bearer"  // a wrong Authorization: Bearer token on the API
	KindSession = "session" // a session cookie that names no session (forged or from another admin token)
	KindLogin   = "login"   // a wrong username or password on the login form
)

// maxClientKeyLen bounds a client key taken from X-Forwarded-For, so that a
// header full of junk cannot make the limiter hold long strings.
const maxClientKeyLen = 64

// GuardConfig configures a Guard.
type GuardConfig struct {
	// Limit is the failed-attempt budget of one client address; its zero
	// value allows 5 failures at once, then one every 12s.
	Limit LimiterConfig
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed. Empty means the header is ignored.
	TrustedProxies []netip.Prefix
	// Logger receives one WARN line per failure, never the credential;
	// nil discards them.
	Logger *slog.Logger
	// Metrics, when set, registers connecthub_auth_failures_total{kind}
	// and connecthub_auth_rate_limited_total{kind}.
	Metrics prometheus.Registerer
}

// Guard limits failed authentication attempts per client address, across
// every way in: API Bearer tokens, session cookies and the login form share
// one budget, so that the API cannot be used to guess the UI password (by
// default the admin token) at full speed, nor the other way round. A
// client that has used up its budget is refused with 429 before its next
// credential is even compared, so a guesser learns nothing more until the
// budget refills. It is safe for concurrent use.
type Guard struct {
	limiter  *Limiter
	proxies  []netip.Prefix
	log      *slog.Logger
	failures *prometheus.CounterVec
	limited  *prometheus.CounterVec
}

// NewGuard returns a Guard.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	l, err := NewLimiter(cfg.Limit)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{
		limiter: l, proxies: cfg.TrustedProxies, log: cfg.Logger,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "connecthub_auth_failures_total",
			Help: "Failed authentication attempts (wrong Bearer token, forged session cookie, wrong login), by kind."}, []string{"kind"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "connecthub_auth_rate_limited_total",
			Help: "Authentication attempts refused with 429 because the client had used up its failed attempts, by kind."}, []string{"kind"}),
	}
	for _, k := range []string{KindBearer, KindSession, KindLogin} {
		g.failures.WithLabelValues(k)
		g.limited.WithLabelValues(k)
	}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(g.failures); err != nil {
			return nil, err
		}
		if err := cfg.Metrics.Register(g.limited); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Client returns the key the budget is kept under: the address of the TCP
// peer, or, when the peer is a trusted proxy, the right-most address of
// X-Forwarded-For that is not a trusted proxy (the left part of the header
// is whatever the client chose to send). IPv6 clients are keyed by their
// /64, which one host usually controls entirely.
func (g *Guard) Client(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil {
		return clip(peer)
	}
	addr = addr.Unmap()
	if !g.trusted(addr) {
		return key(addr)
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := parseHop(hops[i])
		if err != nil {
			// A trusted proxy (every hop to its right is one) wrote
			// something that is no address: it is still the best name
			// of this client there is.
			return clip(hops[i])
		}
		if !g.trusted(a) {
			return key(a)
		}
		addr = a
	}
	// Every hop is a proxy we trust: the request started at the left-most.
	return key(addr)
}

func (g *Guard) trusted(a netip.Addr) bool {
	for _, p := range g.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor splits every X-Forwarded-For header, in order, into hops.
func forwardedFor(values []string) []string {
	var hops []string
	for _, v := range values {
		for h := range strings.SplitSeq(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	return hops
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("1.2.3.4:5678", "[2001:db8::1]:443") as some proxies write it.
func parseHop(h string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), nil
	}
	ap, err := netip.ParseAddrPort(h)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

func key(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func clip(s string) string {
	if len(s) > maxClientKeyLen {
		return s[:maxClientKeyLen]
	}
	return s
}

// Blocked reports whether client has used up its failed attempts, and if
// so how long until it may try again. It does not take an attempt: only
// failures do. A blocked attempt is counted under kind.
func (g *Guard) Blocked(client, kind string) (bool, time.Duration) {
	ok, wait := g.limiter.Peek(client)
	if ok {
		return false, 0
	}
	g.limited.WithLabelValues(kind).Inc()
	return true, wait
}

// Fail records a failed attempt of kind by client: it logs it (never the
// credential), counts it and takes one attempt from the client's budget;
// the attempt that empties the budget says so in the log, once, instead of
// a line per refused request afterwards.
func (g *Guard) Fail(r *http.Request, client, kind string) {
	g.failures.WithLabelValues(kind).Inc()
	g.limiter.Allow(client)
	attrs := []any{"kind", kind, "client", client, "method", r.Method, "path", r.URL.Path}
	if ok, wait := g.limiter.Peek(client); !ok {
		g.log.Warn("authentication failed; client rate limited: its next attempts get 429", append(attrs, "retry_after", wait.Round(time.Second))...)
		return
	}
	g.log.Warn("authentication failed", attrs...)
}

// Succeeded gives client its full budget back. Only a successful login
// calls it: a valid API token must not, or a worker token could be used to
// reset the budget between guesses of the admin token.
func (g *Guard) Succeeded(client string) { g.limiter.Reset(client) }

// Failures returns how many failed attempts of kind were counted, for
// tests.
func (g *Guard) Failures(kind string) float64 { return counterValue(g.failures, kind) }

// RateLimited returns how many attempts of kind were refused with 429,
// for tests.
func (g *Guard) RateLimited(kind string) float64 { return counterValue(g.limited, kind) }

// String describes the budget, for logs and docs.
func (g *Guard) String() string { return g.limiter.String() }

func counterValue(v *prometheus.CounterVec, kind string) float64 {
	var m dto.Metric
	if err := v.WithLabelValues(kind).Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// CountsAsFailure reports whether a session check's error is an attempt
// worth counting: a cookie that names no session (a guess, a forgery, or
// a cookie made under another admin token). An expired, logged-out or
// revoked cookie is what a browser innocently sends after a while (its
// row is kept until it expires for that reason), and no cookie at all is
// no attempt.
func CountsAsFailure(err error) bool { return errors.Is(err, ErrInvalid) }

// NoSession reports whether a session check's error means only that the
// request carries no usable session (none, malformed, unknown, expired or
// revoked), as opposed to a failure to reach the session store, which
// should be answered as a server error rather than a login page.
func NoSession(err error) bool {
	return errors.Is(err, ErrNoSession) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrExpired) || errors.Is(err, ErrRevoked)
}
