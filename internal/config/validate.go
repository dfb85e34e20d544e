package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/connecthub/connecthub/handlers/httpcall"
	"github.com/connecthub/connecthub/handlers/shell"
)

// Limits that Validate enforces beyond the obvious ones.
const (
	minRunLogMaxBytes = 1024
	// maxRunLogMaxBytes keeps a run's log, stored in its database row,
	// from growing without bound because of a typo in the value.
	maxRunLogMaxBytes = 64 << 20
	minMaxBodyBytes   = 1024
	// MinSecretLen is the shortest admin token or admin password accepted:
	// with the authentication rate limit, 16 characters put guessing out of
	// reach, while a short one could be found in days.
	MinSecretLen = 16
)

// Validate checks every setting and returns one *Error per problem, joined
// with errors.Join, each naming its variable:
//
//	CONNECTHUB_WORKERS: must be >= 0, got -1
//
// Messages about secrets never include their values. Validate also caches
// the loaded timezone for Location.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, &Error{Variable: name, Message: fmt.Sprintf(format, args...), Origin: c.origins[name]})
	}

	if err := checkListen(c.Listen); err != nil {
		bad("CONNECTHUB_LISTEN", "%v", err)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("CONNECTHUB_PUBLIC_URL", "must be an absolute http(s) URL like https://hub.example.com")
		}
	}
	if c.DataDir == "" {
		bad("CONNECTHUB_DATA_DIR", "must not be empty")
	}
	if err := checkDBURL(c.DBURL); err != nil {
		bad("CONNECTHUB_DB_URL", "%v", err)
	}
	if c.FernetKeyPath == "" {
		bad("CONNECTHUB_FERNET_KEY_PATH", "must not be empty")
	}
	if err := checkToken(c.AdminToken); err != nil {
		bad("CONNECTHUB_ADMIN_TOKEN", "%v", err)
	}
	if err := checkSecretLen(c.AdminToken); err != nil {
		bad("CONNECTHUB_ADMIN_TOKEN", "%v", err)
	}
	if err := checkSecretLen(c.AdminPassword); err != nil {
		bad("CONNECTHUB_ADMIN_PASSWORD", "%v", err)
	}
	if strings.TrimSpace(c.AdminUsername) == "" {
		bad("CONNECTHUB_ADMIN_USERNAME", "must not be empty")
	}
	if c.AuditRetention < time.Hour {
		bad("CONNECTHUB_AUDIT_RETENTION", "must be at least 1h, got %s", formatDuration(c.AuditRetention))
	}
	if c.RunRetention < 0 || (c.RunRetention > 0 && c.RunRetention < time.Hour) {
		bad("CONNECTHUB_RUN_RETENTION", "must be at least 1h, or 0 to turn the default off, got %s", formatDuration(c.RunRetention))
	}
	if c.CleanDelay < 0 {
		bad("CONNECTHUB_CLEAN_DELAY", "must not be negative, got %s", formatDuration(c.CleanDelay))
	}
	if c.SessionTTL <= 0 {
		bad("CONNECTHUB_SESSION_TTL", "must be > 0, got %s", formatDuration(c.SessionTTL))
	}
	c.loc = nil
	if c.Timezone == "" {
		bad("CONNECTHUB_TIMEZONE", "must not be empty (use an IANA name such as Asia/Shanghai or UTC)")
	} else if loc, err := time.LoadLocation(c.Timezone); err != nil {
		bad("CONNECTHUB_TIMEZONE", "unknown timezone %q (use an IANA name such as Asia/Shanghai or UTC)", c.Timezone)
	} else {
		c.loc = loc
	}
	if c.Workers < 0 {
		bad("CONNECTHUB_WORKERS", "must be >= 0, got %d", c.Workers)
	}
	if len(c.Queues) == 0 {
		bad("CONNECTHUB_QUEUES", "must name at least one queue")
	}
	for _, q := range c.Queues {
		if q == "" || strings.IndexFunc(q, unicode.IsSpace) >= 0 || strings.IndexFunc(q, unicode.IsControl) >= 0 {
			bad("CONNECTHUB_QUEUES", "queue name %q must be non-empty without spaces", q)
		}
	}
	if c.LeaseTTL <= 0 {
		bad("CONNECTHUB_LEASE_TTL", "must be > 0, got %s", formatDuration(c.LeaseTTL))
	}
	if c.Heartbeat <= 0 {
		bad("CONNECTHUB_HEARTBEAT", "must be > 0, got %s", formatDuration(c.Heartbeat))
	} else {
		// A heartbeat as long as the lease lets leases expire between two
		// heartbeats, and a node as silent as its dead-after would flap
		// between active and inactive.
		if c.LeaseTTL > 0 && c.Heartbeat >= c.LeaseTTL {
			bad("CONNECTHUB_HEARTBEAT", "must be shorter than CONNECTHUB_LEASE_TTL (%s), got %s",
				formatDuration(c.LeaseTTL), formatDuration(c.Heartbeat))
		}
		if c.NodeDeadAfter > 0 && c.Heartbeat >= c.NodeDeadAfter {
			bad("CONNECTHUB_HEARTBEAT", "must be shorter than CONNECTHUB_NODE_DEAD_AFTER (%s), got %s",
				formatDuration(c.NodeDeadAfter), formatDuration(c.Heartbeat))
		}
	}
	if c.NodeDeadAfter <= 0 {
		bad("CONNECTHUB_NODE_DEAD_AFTER", "must be > 0, got %s", formatDuration(c.NodeDeadAfter))
	}
	if c.ShutdownTimeout < 0 {
		bad("CONNECTHUB_SHUTDOWN_TIMEOUT", "must be >= 0, got %s", formatDuration(c.ShutdownTimeout))
	}
	if c.ShutdownDelay < 0 {
		bad("CONNECTHUB_SHUTDOWN_DELAY", "must be >= 0, got %s", formatDuration(c.ShutdownDelay))
	}
	if c.RunLogMaxBytes < minRunLogMaxBytes || c.RunLogMaxBytes > maxRunLogMaxBytes {
		bad("CONNECTHUB_RUN_LOG_MAX_BYTES", "must be between %d and %d, got %d",
			minRunLogMaxBytes, maxRunLogMaxBytes, c.RunLogMaxBytes)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("CONNECTHUB_LOG_FORMAT", "must be text or json, got %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("CONNECTHUB_LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	c.validateOIDC(bad)
	if err := checkServerURL(c.ServerURL); err != nil {
		bad("CONNECTHUB_SERVER_URL", "%v", err)
	}
	if err := checkToken(c.WorkerToken); err != nil {
		bad("CONNECTHUB_WORKER_TOKEN", "%v", err)
	}
	if c.RetryBackoff <= 0 {
		bad("CONNECTHUB_RETRY_BACKOFF", "must be > 0, got %s", formatDuration(c.RetryBackoff))
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		bad("CONNECTHUB_RETRY_BACKOFF_MAX", "must be >= CONNECTHUB_RETRY_BACKOFF (%s), got %s",
			formatDuration(c.RetryBackoff), formatDuration(c.RetryBackoffMax))
	}
	if c.MaxBodyBytes < minMaxBodyBytes {
		bad("CONNECTHUB_MAX_BODY_BYTES", "must be >= %d, got %d", minMaxBodyBytes, c.MaxBodyBytes)
	}
	if len(c.HTTPCallDeny) == 0 {
		bad("CONNECTHUB_HTTPCALL_DENY", "must not be empty (write none to deny nothing)")
	} else if _, err := httpcall.ParseEgress(c.HTTPCallDeny, nil); err != nil {
		bad("CONNECTHUB_HTTPCALL_DENY", "%v", err)
	}
	if _, err := httpcall.ParseEgress([]string{"none"}, c.HTTPCallAllow); err != nil {
		bad("CONNECTHUB_HTTPCALL_ALLOW", "%v", err)
	}
	// The user is looked up only where shell commands can run: a client
	// command or a server without shell has no use for it.
	if c.ShellUser != "" && c.EnableShell {
		if _, err := shell.LookupUser(c.ShellUser); err != nil {
			bad("CONNECTHUB_SHELL_USER", "%v", err)
		}
	}
	c.proxies = nil
	for _, s := range c.TrustedProxies {
		p, err := parseProxy(s)
		if err != nil {
			bad("CONNECTHUB_TRUSTED_PROXIES", "%v", err)
			continue
		}
		c.proxies = append(c.proxies, p)
	}
	return errors.Join(errs...)
}

// checkListen accepts host:port with a numeric port, where host may be
// empty (all interfaces) and port may be 0 (any free port, for tests).
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port such as :8000 or 127.0.0.1:8000, got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", port)
	}
	return nil
}

// checkToken rejects tokens that cannot travel in an Authorization header:
// whitespace or control characters are nearly always a copy-paste accident
// (a trailing newline from a file), and comparing against them would fail
// in a confusing way later. The value itself is never shown.
func checkToken(s Secret) error {
	v := s.Value()
	if strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return errors.New("must not contain spaces, newlines or control characters (value not shown)")
	}
	return nil
}

// checkSecretLen enforces MinSecretLen on a token or password that is set
// (an unset one is generated or derived). It counts characters, not bytes,
// and never shows the value.
func checkSecretLen(s Secret) error {
	if n := utf8.RuneCountInString(s.Value()); n > 0 && n < MinSecretLen {
		return fmt.Errorf("must be at least %d characters, got %d (value not shown)", MinSecretLen, n)
	}
	return nil
}

// parseProxy reads one CONNECTHUB_TRUSTED_PROXIES entry: a CIDR such as
// 10.0.0.0/8 or a single address such as 127.0.0.1.
func parseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address such as 127.0.0.1", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address such as 127.0.0.1", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func checkServerURL(raw string) error {
	u, err := parseURL(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an http:// or https:// URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("must include a host, such as http://127.0.0.1:8000")
	}
	return nil
}

// parseURL is url.Parse without the input in its error: url.Error quotes
// the whole URL, password included.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var ee url.EscapeError
		if errors.As(err, &ee) {
			// The bad escape may be part of a password.
			return nil, errors.New("not a valid URL: invalid %-escape (write a literal % as %25)")
		}
		return nil, fmt.Errorf("not a valid URL: %v", err)
	}
	return u, nil
}

// formatDuration prints a duration the way an operator would write it:
// "12h" rather than time.Duration's "12h0m0s".
func formatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d" // as retention periods are written
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
