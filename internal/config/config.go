// Package config holds ConnectHub's process configuration: the
// CONNECTHUB_* environment variables, optionally read from a .env file,
// overridden by command-line flags, with documented defaults and a
// validation that names the offending variable.
//
// The environment is always passed in (a getenv function), never read from
// the process, so the whole program can be started from a test with the
// configuration it needs. docs/configuration.md is the operator's view of the
// same table; a test keeps the two in step.
package config

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub/handlers/httpcall"

	// The timezone database is embedded so that CONNECTHUB_TIMEZONE and the
	// jobs' timezones work in minimal container images without
	// /usr/share/zoneinfo.
	_ "time/tzdata"
)

// Where a setting's value came from, as reported by Redacted.
const (
	SourceDefault = "default" // not set anywhere, or derived from another setting
	SourceEnv     = "env"     // a real environment variable
	SourceDotenv  = ".env"    // the .env file
	SourceFlag    = "flag"    // a command-line flag (an Override)
)

// Config is the configuration of a ConnectHub process. Each field names its
// environment variable in its `env` tag and documents its default. Use Load
// to build one from the environment, or Default for a fully defaulted one in
// tests.
type Config struct {
	// Listen is the HTTP listen address, host:port. Default ":8000".
	Listen string `env:"CONNECTHUB_LISTEN"`
	// DataDir holds the SQLite database, the Fernet key and the generated
	// admin token. The server creates it on start. Default "./data".
	DataDir string `env:"CONNECTHUB_DATA_DIR"`
	// DBURL selects the database: sqlite://PATH, sqlite3://PATH, file:PATH,
	// postgres://… or postgresql://…. Default "sqlite://<DataDir>/connecthub.db".
	DBURL string `env:"CONNECTHUB_DB_URL"`
	// FernetKeyPath is the key file that encrypts the jobs' secrets. Losing
	// it makes them unreadable. Default "<DataDir>/fernet.key".
	FernetKeyPath string `env:"CONNECTHUB_FERNET_KEY_PATH"`
	// AdminToken authenticates API calls. Empty means the server generates
	// one into <DataDir>/admin.token on first start.
	AdminToken Secret `env:"CONNECTHUB_ADMIN_TOKEN"`
	// AdminUsername is the admin web UI login name. Default "admin".
	AdminUsername string `env:"CONNECTHUB_ADMIN_USERNAME"`
	// AdminPassword is the admin web UI password. Empty means the admin
	// token is the password.
	AdminPassword Secret `env:"CONNECTHUB_ADMIN_PASSWORD"`
	// SessionTTL is how long an admin UI login lasts. Default 12h.
	SessionTTL time.Duration `env:"CONNECTHUB_SESSION_TTL"`
	// AuditRetention is how long audit entries are kept before the
	// background cleaner deletes them. Default 365d.
	AuditRetention time.Duration `env:"CONNECTHUB_AUDIT_RETENTION"`
	// RunRetention is how long finished runs are kept when their job sets
	// no keep_for; 0 turns the default off (jobs' own limits still
	// apply). Default 90d. WithDefaults leaves it alone, because 0 is a
	// meaningful setting.
	RunRetention time.Duration `env:"CONNECTHUB_RUN_RETENTION"`
	// CleanDelay is how long after start the retention and audit cleaners
	// make their first pass (then every 10 minutes and every hour): a
	// starting server serves its queue first, and replicas restarted
	// together do not clean together. 0 cleans at once. Default 1m.
	// WithDefaults leaves it alone, because 0 is a meaningful setting.
	CleanDelay time.Duration `env:"CONNECTHUB_CLEAN_DELAY"`
	// Timezone is the default IANA timezone of jobs' cron expressions.
	// Default "Asia/Shanghai".
	Timezone string `env:"CONNECTHUB_TIMEZONE"`
	// PublicURL is the address operators reach this server at (behind
	// the load balancer), used for links in notifications. Empty: messages
	// carry no link.
	PublicURL string `env:"CONNECTHUB_PUBLIC_URL"`
	// Workers is how many runs this node executes at once. 0 means this
	// serve process runs no worker (only API and scheduler). Default 20.
	// WithDefaults leaves it alone, because 0 is a meaningful setting.
	Workers int `env:"CONNECTHUB_WORKERS"`
	// Queues are the queues this node's workers claim from, given as a
	// comma-separated list. Default ["default"].
	Queues []string `env:"CONNECTHUB_QUEUES"`
	// LeaseTTL is how long a claimed run belongs to its worker without a
	// heartbeat before it counts as a zombie. Default 30s.
	LeaseTTL time.Duration `env:"CONNECTHUB_LEASE_TTL"`
	// Heartbeat is how often workers extend their leases and nodes send
	// keepalives. It must be shorter than LeaseTTL and NodeDeadAfter.
	// Default 5s.
	Heartbeat time.Duration `env:"CONNECTHUB_HEARTBEAT"`
	// NodeDeadAfter is the silence after which a node counts as inactive.
	// Default 30s.
	NodeDeadAfter time.Duration `env:"CONNECTHUB_NODE_DEAD_AFTER"`
	// ShutdownTimeout is how long in-flight runs may finish after SIGTERM
	// before they are cancelled and handed back. Default 25s.
	ShutdownTimeout time.Duration `env:"CONNECTHUB_SHUTDOWN_TIMEOUT"`
	// ShutdownDelay is how long a serve node keeps serving after SIGTERM,
	// with /health/ready already 503, before it stops the scheduler and
	// claims: the time a load balancer needs to take it out of rotation.
	// Default 0 (no delay).
	ShutdownDelay time.Duration `env:"CONNECTHUB_SHUTDOWN_DELAY"`
	// RunLogMaxBytes caps each run's stored log. Default 204800 (200 KiB).
	RunLogMaxBytes int `env:"CONNECTHUB_RUN_LOG_MAX_BYTES"`
	// LogDir, when set, receives a rotating connecthub.log in addition to
	// stdout. Default "" (stdout only).
	LogDir string `env:"CONNECTHUB_LOG_DIR"`
	// LogFormat is "text" or "json". Default "text".
	LogFormat string `env:"CONNECTHUB_LOG_FORMAT"`
	// LogLevel is "debug", "info", "warn" or "error". Default "info".
	LogLevel string `env:"CONNECTHUB_LOG_LEVEL"`
	// EnableShell allows the shell handler, which runs commands on the
	// host. Default false.
	EnableShell bool `env:"CONNECTHUB_ENABLE_SHELL"`
	// ShellUser, when set, is the user (name or numeric ID) shell commands
	// run as; the server must then run as root. Default "" (the server's
	// user).
	ShellUser string `env:"CONNECTHUB_SHELL_USER"`
	// HTTPCallDeny are the CIDR prefixes, addresses and host names the
	// httpcall handler must not connect to, checked after DNS resolution
	// and on every redirect; "none" denies nothing. Default
	// DefaultHTTPCallDeny, the cloud metadata addresses.
	HTTPCallDeny []string `env:"CONNECTHUB_HTTPCALL_DENY"`
	// HTTPCallAllow, when set, are the only CIDR prefixes, addresses and
	// host names httpcall may connect to. Default: no allow-list.
	HTTPCallAllow []string `env:"CONNECTHUB_HTTPCALL_ALLOW"`
	// ServerURL is the server that `connecthub worker` and the CLI client
	// commands talk to. Default "http://127.0.0.1:8000".
	ServerURL string `env:"CONNECTHUB_SERVER_URL"`
	// WorkerToken authenticates `connecthub worker` against the server.
	WorkerToken Secret `env:"CONNECTHUB_WORKER_TOKEN"`
	// RetryBackoff is the base of the exponential back-off between
	// automatic retries. Default 10s.
	RetryBackoff time.Duration `env:"CONNECTHUB_RETRY_BACKOFF"`
	// RetryBackoffMax caps the retry back-off. Default 1h.
	RetryBackoffMax time.Duration `env:"CONNECTHUB_RETRY_BACKOFF_MAX"`
	// MaxBodyBytes caps API request bodies; larger ones get 413.
	// Default 1048576 (1 MiB).
	MaxBodyBytes int64 `env:"CONNECTHUB_MAX_BODY_BYTES"`
	// TrustedProxies are the reverse proxies (CIDRs or single addresses,
	// comma-separated) whose X-Forwarded-For header names the real client
	// for the authentication rate limit. Default none: the header is
	// ignored, because any client can send it.
	TrustedProxies []string `env:"CONNECTHUB_TRUSTED_PROXIES"`
	// OIDCIssuer turns on single sign-on through this OpenID Connect
	// issuer (its URL exactly as its ID tokens' iss claim has it).
	// Default "": off.
	OIDCIssuer string `env:"CONNECTHUB_OIDC_ISSUER"`
	// OIDCClientID is the client registered at the issuer.
	OIDCClientID string `env:"CONNECTHUB_OIDC_CLIENT_ID"`
	// OIDCClientSecret is that client's secret; empty for a public client.
	OIDCClientSecret Secret `env:"CONNECTHUB_OIDC_CLIENT_SECRET"`
	// OIDCScopes are the scopes a sign-in asks for. Default
	// ["openid", "profile", "email"].
	OIDCScopes []string `env:"CONNECTHUB_OIDC_SCOPES"`
	// OIDCRoleClaim names the claim with the person's groups or roles
	// (a dotted name reaches into objects). Default "groups".
	OIDCRoleClaim string `env:"CONNECTHUB_OIDC_ROLE_CLAIM"`
	// OIDCRoleMap maps claim values to roles, "ops-admins=admin,ops=operator";
	// unmapped people are viewers. Default "".
	OIDCRoleMap string `env:"CONNECTHUB_OIDC_ROLE_MAP"`
	// OIDCName is the issuer's name on the login page's button ("Sign in
	// with …"). Default "SSO".
	OIDCName string `env:"CONNECTHUB_OIDC_NAME"`

	// sources maps a variable name to where its value came from; nil for a
	// Config not built by Load.
	sources map[string]string
	// origins maps a variable name to a human description of where a
	// non-environment value was set (".env file x", "--workers flag"), so
	// validation errors can point there.
	origins map[string]string
	// warnings are non-fatal findings of Load, such as unknown variables in
	// the .env file.
	warnings []string
	// loc caches the validated Timezone.
	loc *time.Location
	// proxies caches the validated TrustedProxies.
	proxies []netip.Prefix
}

// DefaultHTTPCallDeny is the default of CONNECTHUB_HTTPCALL_DENY: the
// link-local range of the cloud metadata services (169.254.169.254) and the
// IPv6 address of AWS's, which hand the host's cloud credentials to anyone
// who asks. It is httpcall's own default, kept as a variable because Go has
// no constant slices.
var DefaultHTTPCallDeny = httpcall.DefaultDeny

// Default values. They are written once here; Default, WithDefaults and
// docs/configuration.md (checked by a test) agree with them.
const (
	DefaultListen          = ":8000"
	DefaultDataDir         = "./data"
	DefaultAdminUsername   = "admin"
	DefaultSessionTTL      = 12 * time.Hour
	DefaultAuditRetention  = 365 * 24 * time.Hour
	DefaultRunRetention    = 90 * 24 * time.Hour
	DefaultCleanDelay      = time.Minute
	DefaultTimezone        = "Asia/Shanghai"
	DefaultWorkers         = 20
	DefaultQueue           = "default"
	DefaultLeaseTTL        = 30 * time.Second
	DefaultHeartbeat       = 5 * time.Second
	DefaultNodeDeadAfter   = 30 * time.Second
	DefaultShutdownTimeout = 25 * time.Second
	DefaultRunLogMaxBytes  = 200 * 1024
	DefaultLogFormat       = "text"
	DefaultLogLevel        = "info"
	DefaultServerURL       = "http://127.0.0.1:8000"
	DefaultRetryBackoff    = 10 * time.Second
	DefaultRetryBackoffMax = time.Hour
	DefaultMaxBodyBytes    = 1 << 20
	DefaultOIDCRoleClaim   = "groups"
	DefaultOIDCName        = "SSO"
)

// base returns the defaults of every setting that does not depend on
// another one. Load starts from it, so that variables that are not set keep
// these values, and WithDefaults derives the rest.
func base() *Config {
	return &Config{
		Listen:          DefaultListen,
		DataDir:         DefaultDataDir,
		AdminUsername:   DefaultAdminUsername,
		SessionTTL:      DefaultSessionTTL,
		AuditRetention:  DefaultAuditRetention,
		RunRetention:    DefaultRunRetention,
		CleanDelay:      DefaultCleanDelay,
		Timezone:        DefaultTimezone,
		Workers:         DefaultWorkers,
		Queues:          []string{DefaultQueue},
		LeaseTTL:        DefaultLeaseTTL,
		Heartbeat:       DefaultHeartbeat,
		NodeDeadAfter:   DefaultNodeDeadAfter,
		ShutdownTimeout: DefaultShutdownTimeout,
		RunLogMaxBytes:  DefaultRunLogMaxBytes,
		LogFormat:       DefaultLogFormat,
		LogLevel:        DefaultLogLevel,
		ServerURL:       DefaultServerURL,
		RetryBackoff:    DefaultRetryBackoff,
		RetryBackoffMax: DefaultRetryBackoffMax,
		MaxBodyBytes:    DefaultMaxBodyBytes,
		HTTPCallDeny:    slices.Clone(DefaultHTTPCallDeny),
		OIDCScopes:      slices.Clone(DefaultOIDCScopes),
		OIDCRoleClaim:   DefaultOIDCRoleClaim,
		OIDCName:        DefaultOIDCName,
	}
}

// Default returns the configuration of an empty environment: every setting
// at its default, derived ones included. It is valid.
func Default() *Config {
	c := base()
	c.WithDefaults()
	return c
}

// WithDefaults fills every zero-valued setting with its default and derives
// DBURL and FernetKeyPath from DataDir when they are empty. It is for
// Configs built in code, where a zero field means "not set". Workers,
// EnableShell and LogDir are left alone because their zero values are
// meaningful settings; a zero ShutdownTimeout, though valid, cannot be told
// from "not set" here and becomes the default, so set it after calling
// WithDefaults if you want 0.
func (c *Config) WithDefaults() {
	d := base()
	setIfZero(&c.Listen, d.Listen)
	setIfZero(&c.DataDir, d.DataDir)
	setIfZero(&c.AdminUsername, d.AdminUsername)
	setIfZero(&c.SessionTTL, d.SessionTTL)
	setIfZero(&c.AuditRetention, d.AuditRetention)
	setIfZero(&c.Timezone, d.Timezone)
	if len(c.Queues) == 0 {
		c.Queues = d.Queues
	}
	if len(c.HTTPCallDeny) == 0 {
		c.HTTPCallDeny = d.HTTPCallDeny
	}
	setIfZero(&c.LeaseTTL, d.LeaseTTL)
	setIfZero(&c.Heartbeat, d.Heartbeat)
	setIfZero(&c.NodeDeadAfter, d.NodeDeadAfter)
	setIfZero(&c.ShutdownTimeout, d.ShutdownTimeout)
	setIfZero(&c.RunLogMaxBytes, d.RunLogMaxBytes)
	setIfZero(&c.LogFormat, d.LogFormat)
	setIfZero(&c.LogLevel, d.LogLevel)
	setIfZero(&c.ServerURL, d.ServerURL)
	setIfZero(&c.RetryBackoff, d.RetryBackoff)
	setIfZero(&c.RetryBackoffMax, d.RetryBackoffMax)
	setIfZero(&c.MaxBodyBytes, d.MaxBodyBytes)
	if len(c.OIDCScopes) == 0 {
		c.OIDCScopes = d.OIDCScopes
	}
	setIfZero(&c.OIDCRoleClaim, d.OIDCRoleClaim)
	setIfZero(&c.OIDCName, d.OIDCName)
	c.derive()
}

// derive fills the settings whose defaults depend on DataDir. Load calls
// only this, not WithDefaults: base already holds the other defaults, and a
// zero value the operator set (CONNECTHUB_LEASE_TTL=0s) must reach
// Validate as an error instead of silently becoming the default.
func (c *Config) derive() {
	if c.DBURL == "" {
		c.DBURL = "sqlite://" + escapePath(filepath.ToSlash(filepath.Join(c.DataDir, "connecthub.db")))
	}
	if c.FernetKeyPath == "" {
		c.FernetKeyPath = filepath.Join(c.DataDir, "fernet.key")
	}
}

// AdminTokenPath is where the server keeps a generated admin token when
// CONNECTHUB_ADMIN_TOKEN is not set.
func (c *Config) AdminTokenPath() string { return filepath.Join(c.DataDir, "admin.token") }

// Warnings returns non-fatal findings of Load that an operator should see,
// such as a CONNECTHUB_ variable in the .env file that ConnectHub does not
// know (usually a typo). The caller logs them.
func (c *Config) Warnings() []string { return c.warnings }

// Location returns the validated default timezone. On a Config that has not
// passed Validate it loads Timezone again and falls back to UTC if that
// fails, so callers never get a nil location.
func (c *Config) Location() *time.Location {
	if c.loc != nil {
		return c.loc
	}
	if loc, err := time.LoadLocation(c.Timezone); err == nil {
		return loc
	}
	return time.UTC
}

// TrustedProxyPrefixes returns the validated TrustedProxies as address
// prefixes (a single address is a /32 or /128). On a Config that has not
// passed Validate it parses them again and leaves out what does not parse.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	if c.proxies != nil || len(c.TrustedProxies) == 0 {
		return c.proxies
	}
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := parseProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func setIfZero[T comparable](dst *T, def T) {
	var zero T
	if *dst == zero {
		*dst = def
	}
}

// escapePath percent-encodes the characters that would end the path part of
// a URL, so that a data directory named "a?b" still yields a URL whose path
// SQLitePath reads back unchanged.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
}
