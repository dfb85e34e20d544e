package config

import (
	"errors"
	"maps"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// currentUser is a CONNECTHUB_SHELL_USER that exists wherever the tests run
// and needs no root to switch to.
var currentUser = func() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	return u.Username
}()

// envMap is a test environment; its get method is the getenv Load takes.
type envMap map[string]string

func (m envMap) get(key string) string { return m[key] }

// load is Load with a map environment and no .env file; it fails the test
// on error.
func load(t *testing.T, env envMap) *Config {
	t.Helper()
	c, err := Load(env.get, "")
	if err != nil {
		t.Fatalf("Load(%v): %v", env, err)
	}
	return c
}

// writeFile writes content to name in a fresh temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := load(t, envMap{})

	want := &Config{
		Listen:          ":8000",
		DataDir:         "./data",
		DBURL:           "sqlite://data/connecthub.db",
		FernetKeyPath:   filepath.Join("data", "fernet.key"),
		AdminUsername:   "admin",
		SessionTTL:      12 * time.Hour,
		AuditRetention:  365 * 24 * time.Hour,
		RunRetention:    90 * 24 * time.Hour,
		CleanDelay:      time.Minute,
		Timezone:        "Asia/Shanghai",
		Workers:         20,
		Queues:          []string{"default"},
		LeaseTTL:        30 * time.Second,
		Heartbeat:       5 * time.Second,
		NodeDeadAfter:   30 * time.Second,
		ShutdownTimeout: 25 * time.Second,
		RunLogMaxBytes:  204800,
		LogFormat:       "text",
		LogLevel:        "info",
		ServerURL:       "http://127.0.0.1:8000",
		RetryBackoff:    10 * time.Second,
		RetryBackoffMax: time.Hour,
		MaxBodyBytes:    1 << 20,
		HTTPCallDeny:    []string{"169.254.0.0/16", "fd00:ec2::254/128"},
		OIDCScopes:      []string{"openid", "profile", "email"},
		OIDCRoleClaim:   "groups",
		OIDCName:        "SSO",
	}
	if got := exported(c); !reflect.DeepEqual(got, exported(want)) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, exported(want))
	}
	if got := exported(Default()); !reflect.DeepEqual(got, exported(want)) {
		t.Errorf("Default():\n got %+v\nwant %+v", got, exported(want))
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	if c.DBDriver() != DriverSQLite || c.SQLitePath() != "data/connecthub.db" {
		t.Errorf("DBDriver, SQLitePath = %q, %q", c.DBDriver(), c.SQLitePath())
	}
	if c.Location().String() != "Asia/Shanghai" {
		t.Errorf("Location() = %v", c.Location())
	}
	if c.AdminTokenPath() != filepath.Join("data", "admin.token") {
		t.Errorf("AdminTokenPath() = %q", c.AdminTokenPath())
	}
	for _, s := range c.Redacted() {
		if s.Source != SourceDefault {
			t.Errorf("%s: source %q, want default", s.Name, s.Source)
		}
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("Warnings() = %q", c.Warnings())
	}
}

// exported copies the exported fields of c, so that tests compare settings
// without the bookkeeping Load adds.
func exported(c *Config) map[string]any {
	m := map[string]any{}
	rv := reflect.ValueOf(c).Elem()
	for i := range rv.NumField() {
		if f := rv.Type().Field(i); f.IsExported() {
			m[f.Name] = rv.Field(i).Interface()
		}
	}
	return m
}

func TestWithDefaultsFillsZeroConfig(t *testing.T) {
	t.Parallel()
	c := &Config{DataDir: "/srv/ch"}
	c.WithDefaults()
	if c.Workers != 0 {
		t.Errorf("Workers = %d, want 0 left alone (0 means no worker)", c.Workers)
	}
	if c.DBURL != "sqlite:///srv/ch/connecthub.db" || c.SQLitePath() != "/srv/ch/connecthub.db" {
		t.Errorf("DBURL = %q, SQLitePath = %q", c.DBURL, c.SQLitePath())
	}
	if c.FernetKeyPath != filepath.Join("/srv/ch", "fernet.key") {
		t.Errorf("FernetKeyPath = %q", c.FernetKeyPath)
	}
	if c.Listen != DefaultListen || c.LeaseTTL != DefaultLeaseTTL || c.MaxBodyBytes != DefaultMaxBodyBytes {
		t.Errorf("defaults not filled: %+v", exported(c))
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestLoadGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   envMap
		check func(t *testing.T, c *Config)
	}{
		{
			name: "every variable set",
			env: envMap{
				"CONNECTHUB_LISTEN":             "0.0.0.0:9000",
				"CONNECTHUB_DATA_DIR":           "/var/lib/connecthub",
				"CONNECTHUB_DB_URL":             "postgres://ch:pw@db:5432/connecthub?sslmode=disable",
				"CONNECTHUB_FERNET_KEY_PATH":    "/etc/connecthub/fernet.key",
				"CONNECTHUB_ADMIN_TOKEN":        "admintoken-0123456789",
				"CONNECTHUB_ADMIN_USERNAME":     "root",
				"CONNECTHUB_ADMIN_PASSWORD":     "hunter2 with spaces",
				"CONNECTHUB_SESSION_TTL":        "1h30m",
				"CONNECTHUB_TIMEZONE":           "Europe/Berlin",
				"CONNECTHUB_PUBLIC_URL":         "https://hub.example.com/",
				"CONNECTHUB_WORKERS":            "4",
				"CONNECTHUB_QUEUES":             "default,reports",
				"CONNECTHUB_LEASE_TTL":          "1m",
				"CONNECTHUB_HEARTBEAT":          "10s",
				"CONNECTHUB_NODE_DEAD_AFTER":    "2m",
				"CONNECTHUB_SHUTDOWN_TIMEOUT":   "0s",
				"CONNECTHUB_SHUTDOWN_DELAY":     "5s",
				"CONNECTHUB_RUN_LOG_MAX_BYTES":  "1024",
				"CONNECTHUB_LOG_DIR":            "/var/log/connecthub",
				"CONNECTHUB_LOG_FORMAT":         "json",
				"CONNECTHUB_LOG_LEVEL":          "debug",
				"CONNECTHUB_ENABLE_SHELL":       "true",
				"CONNECTHUB_SHELL_USER":         currentUser,
				"CONNECTHUB_HTTPCALL_DENY":      " 169.254.0.0/16, metadata.internal,",
				"CONNECTHUB_HTTPCALL_ALLOW":     "10.0.0.0/8,api.example.com",
				"CONNECTHUB_SERVER_URL":         "https://hub.example.com",
				"CONNECTHUB_WORKER_TOKEN":       "workertoken-0123456789",
				"CONNECTHUB_RETRY_BACKOFF":      "1s",
				"CONNECTHUB_RETRY_BACKOFF_MAX":  "10m",
				"CONNECTHUB_MAX_BODY_BYTES":     "8388608",
				"CONNECTHUB_TRUSTED_PROXIES":    " 10.1.2.0/24 , 192.168.0.1,,::1",
				"CONNECTHUB_AUDIT_RETENTION":    "90d",
				"CONNECTHUB_RUN_RETENTION":      "30d",
				"CONNECTHUB_CLEAN_DELAY":        "0",
				"CONNECTHUB_OIDC_ISSUER":        " https://sso.example.com/realms/ops ",
				"CONNECTHUB_OIDC_CLIENT_ID":     "connecthub",
				"CONNECTHUB_OIDC_CLIENT_SECRET": "oidc-client-secret",
				"CONNECTHUB_OIDC_SCOPES":        "openid, profile,groups",
				"CONNECTHUB_OIDC_ROLE_CLAIM":    "realm_access.roles",
				"CONNECTHUB_OIDC_ROLE_MAP":      "ops-admins=admin, ops=operator,cn=dev=viewer",
				"CONNECTHUB_OIDC_NAME":          "Keycloak",
			},
			check: func(t *testing.T, c *Config) {
				want := &Config{
					Listen:           "0.0.0.0:9000",
					DataDir:          "/var/lib/connecthub",
					DBURL:            "postgres://ch:pw@db:5432/connecthub?sslmode=disable",
					FernetKeyPath:    "/etc/connecthub/fernet.key",
					AdminToken:       "admintoken-0123456789",
					AdminUsername:    "root",
					AdminPassword:    "hunter2 with spaces",
					SessionTTL:       90 * time.Minute,
					AuditRetention:   90 * 24 * time.Hour,
					RunRetention:     30 * 24 * time.Hour,
					CleanDelay:       0,
					Timezone:         "Europe/Berlin",
					PublicURL:        "https://hub.example.com/",
					Workers:          4,
					Queues:           []string{"default", "reports"},
					LeaseTTL:         time.Minute,
					Heartbeat:        10 * time.Second,
					NodeDeadAfter:    2 * time.Minute,
					ShutdownTimeout:  0,
					ShutdownDelay:    5 * time.Second,
					RunLogMaxBytes:   1024,
					LogDir:           "/var/log/connecthub",
					LogFormat:        "json",
					LogLevel:         "debug",
					EnableShell:      true,
					ShellUser:        currentUser,
					HTTPCallDeny:     []string{"169.254.0.0/16", "metadata.internal"},
					HTTPCallAllow:    []string{"10.0.0.0/8", "api.example.com"},
					ServerURL:        "https://hub.example.com",
					WorkerToken:      "workertoken-0123456789",
					RetryBackoff:     time.Second,
					RetryBackoffMax:  10 * time.Minute,
					MaxBodyBytes:     8 << 20,
					TrustedProxies:   []string{"10.1.2.0/24", "192.168.0.1", "::1"},
					OIDCIssuer:       "https://sso.example.com/realms/ops",
					OIDCClientID:     "connecthub",
					OIDCClientSecret: "oidc-client-secret",
					OIDCScopes:       []string{"openid", "profile", "groups"},
					OIDCRoleClaim:    "realm_access.roles",
					OIDCRoleMap:      "ops-admins=admin, ops=operator,cn=dev=viewer",
					OIDCName:         "Keycloak",
				}
				if got := exported(c); !reflect.DeepEqual(got, exported(want)) {
					t.Errorf("\n got %+v\nwant %+v", got, exported(want))
				}
				if c.DBDriver() != DriverPostgres || c.SQLitePath() != "" {
					t.Errorf("DBDriver, SQLitePath = %q, %q", c.DBDriver(), c.SQLitePath())
				}
				roles, err := c.OIDCRoles()
				wantRoles := map[string]connecthub.Role{"ops-admins": connecthub.RoleAdmin, "ops": connecthub.RoleOperator, "cn=dev": connecthub.RoleViewer}
				if !maps.Equal(roles, wantRoles) || err != nil {
					t.Errorf("OIDCRoles() = %v, %v, want %v", roles, err, wantRoles)
				}
				if got := c.OIDCRedirectURL(); got != "https://hub.example.com/admin/oidc/callback" {
					t.Errorf("OIDCRedirectURL() = %q", got)
				}
				if c.Location().String() != "Europe/Berlin" {
					t.Errorf("Location() = %v", c.Location())
				}
				wantProxies := []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("192.168.0.1/32"), netip.MustParsePrefix("::1/128")}
				if got := c.TrustedProxyPrefixes(); !slices.Equal(got, wantProxies) {
					t.Errorf("TrustedProxyPrefixes() = %v, want %v", got, wantProxies)
				}
				for _, s := range c.Redacted() {
					if s.Source != SourceEnv {
						t.Errorf("%s: source %q, want env", s.Name, s.Source)
					}
				}
			},
		},
		{
			name: "data dir moves the derived database and key file",
			env:  envMap{"CONNECTHUB_DATA_DIR": "/srv/hub"},
			check: func(t *testing.T, c *Config) {
				if c.DBURL != "sqlite:///srv/hub/connecthub.db" || c.SQLitePath() != "/srv/hub/connecthub.db" {
					t.Errorf("DBURL = %q, SQLitePath = %q", c.DBURL, c.SQLitePath())
				}
				if c.FernetKeyPath != filepath.Join("/srv/hub", "fernet.key") {
					t.Errorf("FernetKeyPath = %q", c.FernetKeyPath)
				}
			},
		},
		{
			name: "data dir with URL metacharacters round-trips",
			env:  envMap{"CONNECTHUB_DATA_DIR": "/srv/50% ?odd#dir"},
			check: func(t *testing.T, c *Config) {
				if got := c.SQLitePath(); got != "/srv/50% ?odd#dir/connecthub.db" {
					t.Errorf("SQLitePath() = %q from DBURL %q", got, c.DBURL)
				}
			},
		},
		{
			name: "explicit DB URL and key path are kept when the data dir changes",
			env: envMap{
				"CONNECTHUB_DATA_DIR":        "/srv/hub",
				"CONNECTHUB_DB_URL":          "sqlite3:///elsewhere/hub.db",
				"CONNECTHUB_FERNET_KEY_PATH": "/keys/fernet.key",
			},
			check: func(t *testing.T, c *Config) {
				if c.SQLitePath() != "/elsewhere/hub.db" || c.FernetKeyPath != "/keys/fernet.key" {
					t.Errorf("SQLitePath = %q, FernetKeyPath = %q", c.SQLitePath(), c.FernetKeyPath)
				}
			},
		},
		{
			name: "workers 0 runs no worker",
			env:  envMap{"CONNECTHUB_WORKERS": "0"},
			check: func(t *testing.T, c *Config) {
				if c.Workers != 0 {
					t.Errorf("Workers = %d", c.Workers)
				}
			},
		},
		{
			name: "values are tidied: blanks, case, duplicate queues",
			env: envMap{
				"CONNECTHUB_QUEUES":       " reports , default,,reports ",
				"CONNECTHUB_LOG_FORMAT":   "JSON",
				"CONNECTHUB_LOG_LEVEL":    "Warning",
				"CONNECTHUB_WORKERS":      " 7 ",
				"CONNECTHUB_LEASE_TTL":    " 45s",
				"CONNECTHUB_ENABLE_SHELL": "ON",
			},
			check: func(t *testing.T, c *Config) {
				if !slices.Equal(c.Queues, []string{"reports", "default"}) {
					t.Errorf("Queues = %q", c.Queues)
				}
				if c.LogFormat != "json" || c.LogLevel != "warn" || c.Workers != 7 || c.LeaseTTL != 45*time.Second || !c.EnableShell {
					t.Errorf("got %+v", exported(c))
				}
			},
		},
		{
			name: "booleans in their usual spellings",
			env:  envMap{"CONNECTHUB_ENABLE_SHELL": "0"},
			check: func(t *testing.T, c *Config) {
				if c.EnableShell {
					t.Error("EnableShell = true for 0")
				}
			},
		},
		{
			name: "an empty variable means unset",
			env:  envMap{"CONNECTHUB_LISTEN": "", "CONNECTHUB_WORKERS": ""},
			check: func(t *testing.T, c *Config) {
				if c.Listen != DefaultListen || c.Workers != DefaultWorkers {
					t.Errorf("Listen, Workers = %q, %d", c.Listen, c.Workers)
				}
			},
		},
		{
			name: "UTC and port 0 are fine",
			env:  envMap{"CONNECTHUB_TIMEZONE": "UTC", "CONNECTHUB_LISTEN": "127.0.0.1:0"},
			check: func(t *testing.T, c *Config) {
				if c.Location() != time.UTC && c.Location().String() != "UTC" {
					t.Errorf("Location() = %v", c.Location())
				}
			},
		},
		{
			name: "postgresql scheme",
			env:  envMap{"CONNECTHUB_DB_URL": "postgresql:///connecthub?host=/var/run/postgresql"},
			check: func(t *testing.T, c *Config) {
				if c.DBDriver() != DriverPostgres {
					t.Errorf("DBDriver() = %q", c.DBDriver())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, load(t, tt.env))
		})
	}
}

func TestLoadBad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  envMap
		want []string // each must be one line of the error
	}{
		{"negative workers", envMap{"CONNECTHUB_WORKERS": "-1"},
			[]string{"CONNECTHUB_WORKERS: must be >= 0, got -1"}},
		{"workers not a number", envMap{"CONNECTHUB_WORKERS": "twenty"},
			[]string{`CONNECTHUB_WORKERS: not an integer: "twenty"`}},
		{"workers overflow", envMap{"CONNECTHUB_WORKERS": "99999999999999999999"},
			[]string{`CONNECTHUB_WORKERS: out of range: "99999999999999999999"`}},
		{"duration without unit", envMap{"CONNECTHUB_LEASE_TTL": "30"},
			[]string{`CONNECTHUB_LEASE_TTL: not a duration: "30" (use Go syntax such as 30s, 5m or 1h30m)`}},
		{"duration nonsense", envMap{"CONNECTHUB_SESSION_TTL": "forever"},
			[]string{`CONNECTHUB_SESSION_TTL: not a duration: "forever" (use Go syntax such as 30s, 5m or 1h30m)`}},
		{"bool nonsense", envMap{"CONNECTHUB_ENABLE_SHELL": "maybe"},
			[]string{`CONNECTHUB_ENABLE_SHELL: not a boolean: "maybe" (use true or false)`}},
		{"bad deny-list", envMap{"CONNECTHUB_HTTPCALL_DENY": "169.254.0.0/16,10.0.0.0/33"},
			[]string{`CONNECTHUB_HTTPCALL_DENY: deny-list: "10.0.0.0/33" is not a CIDR prefix such as 10.0.0.0/8`}},
		{"blank deny-list", envMap{"CONNECTHUB_HTTPCALL_DENY": " , "},
			[]string{`CONNECTHUB_HTTPCALL_DENY: must not be empty (write none to deny nothing)`}},
		{"bad allow-list", envMap{"CONNECTHUB_HTTPCALL_ALLOW": "http://api.example.com"},
			[]string{`CONNECTHUB_HTTPCALL_ALLOW: allow-list: "http://api.example.com" is a URL: write only its host name or address`}},
		{"unknown shell user", envMap{"CONNECTHUB_ENABLE_SHELL": "true", "CONNECTHUB_SHELL_USER": "no-such-user-connecthub"},
			[]string{`CONNECTHUB_SHELL_USER: shell user "no-such-user-connecthub": user: unknown user no-such-user-connecthub`}},
		{"unknown log format", envMap{"CONNECTHUB_LOG_FORMAT": "xml"},
			[]string{`CONNECTHUB_LOG_FORMAT: must be text or json, got "xml"`}},
		{"unknown log level", envMap{"CONNECTHUB_LOG_LEVEL": "verbose"},
			[]string{`CONNECTHUB_LOG_LEVEL: must be debug, info, warn or error, got "verbose"`}},
		{"oidc without issuer", envMap{"CONNECTHUB_OIDC_CLIENT_ID": "connecthub"},
			[]string{"CONNECTHUB_OIDC_CLIENT_ID: is set but CONNECTHUB_OIDC_ISSUER is not: set the issuer to turn single sign-on on"}},
		{"oidc incomplete", envMap{"CONNECTHUB_OIDC_ISSUER": "sso.example.com", "CONNECTHUB_OIDC_ROLE_MAP": "ops=root,admins",
			"CONNECTHUB_OIDC_SCOPES": "openid,a b", "CONNECTHUB_OIDC_CLIENT_SECRET": "s3cr3t-value"},
			[]string{
				"CONNECTHUB_OIDC_ISSUER: must be the issuer's absolute http(s) URL without query, like https://sso.example.com/realms/ops",
				"CONNECTHUB_OIDC_CLIENT_ID: is required when CONNECTHUB_OIDC_ISSUER is set",
				"CONNECTHUB_PUBLIC_URL: is required when CONNECTHUB_OIDC_ISSUER is set: the redirect URI is derived from it (<public url>/admin/oidc/callback)",
				`CONNECTHUB_OIDC_SCOPES: scope "a b" must not contain spaces or quotes`,
				`CONNECTHUB_OIDC_ROLE_MAP: "ops=root" is not value=role with a role of viewer, operator or admin`,
			}},
		{"public url not absolute", envMap{"CONNECTHUB_PUBLIC_URL": "hub.example.com"},
			[]string{`CONNECTHUB_PUBLIC_URL: must be an absolute http(s) URL like https://hub.example.com`}},
		{"unknown timezone", envMap{"CONNECTHUB_TIMEZONE": "Mars/Olympus_Mons"},
			[]string{`CONNECTHUB_TIMEZONE: unknown timezone "Mars/Olympus_Mons" (use an IANA name such as Asia/Shanghai or UTC)`}},
		{"heartbeat not shorter than lease", envMap{"CONNECTHUB_HEARTBEAT": "30s"},
			[]string{
				"CONNECTHUB_HEARTBEAT: must be shorter than CONNECTHUB_LEASE_TTL (30s), got 30s",
				"CONNECTHUB_HEARTBEAT: must be shorter than CONNECTHUB_NODE_DEAD_AFTER (30s), got 30s",
			}},
		{"negative durations", envMap{"CONNECTHUB_LEASE_TTL": "-1s", "CONNECTHUB_SHUTDOWN_TIMEOUT": "-5s", "CONNECTHUB_NODE_DEAD_AFTER": "-1m",
			"CONNECTHUB_SHUTDOWN_DELAY": "-2s"},
			[]string{
				"CONNECTHUB_LEASE_TTL: must be > 0, got -1s",
				"CONNECTHUB_SHUTDOWN_TIMEOUT: must be >= 0, got -5s",
				"CONNECTHUB_SHUTDOWN_DELAY: must be >= 0, got -2s",
				"CONNECTHUB_NODE_DEAD_AFTER: must be > 0, got -1m",
			}},
		{"zero values are errors, not defaults", envMap{
			"CONNECTHUB_LEASE_TTL":         "0s",
			"CONNECTHUB_SESSION_TTL":       "0", // Go accepts a bare 0 as a duration
			"CONNECTHUB_RUN_LOG_MAX_BYTES": "0",
			"CONNECTHUB_RETRY_BACKOFF":     "0s",
		},
			[]string{
				"CONNECTHUB_LEASE_TTL: must be > 0, got 0s",
				"CONNECTHUB_SESSION_TTL: must be > 0, got 0s",
				"CONNECTHUB_RUN_LOG_MAX_BYTES: must be between 1024 and 67108864, got 0",
				"CONNECTHUB_RETRY_BACKOFF: must be > 0, got 0s",
			}},
		{"run log too small", envMap{"CONNECTHUB_RUN_LOG_MAX_BYTES": "100"},
			[]string{"CONNECTHUB_RUN_LOG_MAX_BYTES: must be between 1024 and 67108864, got 100"}},
		{"body limit too small", envMap{"CONNECTHUB_MAX_BODY_BYTES": "10"},
			[]string{"CONNECTHUB_MAX_BODY_BYTES: must be >= 1024, got 10"}},
		{"backoff cap below base", envMap{"CONNECTHUB_RETRY_BACKOFF": "2h"},
			[]string{"CONNECTHUB_RETRY_BACKOFF_MAX: must be >= CONNECTHUB_RETRY_BACKOFF (2h), got 1h"}},
		{"queues only commas", envMap{"CONNECTHUB_QUEUES": " , ,"},
			[]string{"CONNECTHUB_QUEUES: must name at least one queue"}},
		{"queue with a space", envMap{"CONNECTHUB_QUEUES": "a b"},
			[]string{`CONNECTHUB_QUEUES: queue name "a b" must be non-empty without spaces`}},
		{"listen without port", envMap{"CONNECTHUB_LISTEN": "8000"},
			[]string{`CONNECTHUB_LISTEN: must be host:port such as :8000 or 127.0.0.1:8000, got "8000"`}},
		{"listen port out of range", envMap{"CONNECTHUB_LISTEN": ":80000"},
			[]string{`CONNECTHUB_LISTEN: port must be a number from 0 to 65535, got "80000"`}},
		{"unsupported database", envMap{"CONNECTHUB_DB_URL": "mysql://u:p@h/db"},
			[]string{`CONNECTHUB_DB_URL: unsupported database "mysql": use sqlite:// or postgres://`}},
		{"database not a URL", envMap{"CONNECTHUB_DB_URL": "./data/hub.db"},
			[]string{"CONNECTHUB_DB_URL: must be a URL such as sqlite://data/connecthub.db or postgres://user:password@host:5432/dbname"}},
		{"sqlite with options", envMap{"CONNECTHUB_DB_URL": "sqlite://hub.db?_pragma=foo"},
			[]string{"CONNECTHUB_DB_URL: a SQLite URL takes no ?query or #fragment: ConnectHub sets the SQLite options itself (write a literal ? or # in a path as %3F or %23)"}},
		{"sqlite without path", envMap{"CONNECTHUB_DB_URL": "sqlite://"},
			[]string{"CONNECTHUB_DB_URL: a SQLite URL needs a file path, such as sqlite:///var/lib/connecthub/connecthub.db or sqlite://data/connecthub.db"}},
		{"remote file URL", envMap{"CONNECTHUB_DB_URL": "file://server/share/hub.db"},
			[]string{`CONNECTHUB_DB_URL: a file: URL must name a local file, got host "server" (use file:///absolute/path.db)`}},
		{"postgres without slashes", envMap{"CONNECTHUB_DB_URL": "postgres:db"},
			[]string{"CONNECTHUB_DB_URL: a PostgreSQL URL looks like postgres://user:password@host:5432/dbname?sslmode=disable"}},
		{"postgres bad port", envMap{"CONNECTHUB_DB_URL": "postgres://u:s3cr3t@db:54x/hub"},
			[]string{`CONNECTHUB_DB_URL: not a valid URL: invalid port ":54x" after host`}},
		{"postgres bad escape in password", envMap{"CONNECTHUB_DB_URL": "postgres://u:s3cr%zz@db/hub"},
			[]string{"CONNECTHUB_DB_URL: not a valid URL: invalid %-escape (write a literal % as %25)"}},
		{"server URL scheme", envMap{"CONNECTHUB_SERVER_URL": "ftp://hub"},
			[]string{`CONNECTHUB_SERVER_URL: must be an http:// or https:// URL, got scheme "ftp"`}},
		{"server URL without host", envMap{"CONNECTHUB_SERVER_URL": "http://"},
			[]string{"CONNECTHUB_SERVER_URL: must include a host, such as http://127.0.0.1:8000"}},
		{"token with a trailing newline", envMap{"CONNECTHUB_ADMIN_TOKEN": "s3cr3t-token-0123456789\n"},
			[]string{"CONNECTHUB_ADMIN_TOKEN: must not contain spaces, newlines or control characters (value not shown)"}},
		{"admin token shorter than 16 characters", envMap{"CONNECTHUB_ADMIN_TOKEN": "short-token-15c"},
			[]string{"CONNECTHUB_ADMIN_TOKEN: must be at least 16 characters, got 15 (value not shown)"}},
		{"one-character admin token", envMap{"CONNECTHUB_ADMIN_TOKEN": "x"},
			[]string{"CONNECTHUB_ADMIN_TOKEN: must be at least 16 characters, got 1 (value not shown)"}},
		{"admin password shorter than 16 characters counts characters, not bytes", envMap{"CONNECTHUB_ADMIN_PASSWORD": "пароль-пароль"},
			[]string{"CONNECTHUB_ADMIN_PASSWORD: must be at least 16 characters, got 13 (value not shown)"}},
		{"trusted proxy that is no address", envMap{"CONNECTHUB_TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"},
			[]string{`CONNECTHUB_TRUSTED_PROXIES: "proxy.local" is not a CIDR such as 10.0.0.0/8 or an address such as 127.0.0.1`}},
		{"trusted proxy with a bad prefix length", envMap{"CONNECTHUB_TRUSTED_PROXIES": "10.0.0.0/33"},
			[]string{`CONNECTHUB_TRUSTED_PROXIES: "10.0.0.0/33" is not a CIDR such as 10.0.0.0/8 or an address such as 127.0.0.1`}},
		{"worker token with a space", envMap{"CONNECTHUB_WORKER_TOKEN": "s3cr3t token"},
			[]string{"CONNECTHUB_WORKER_TOKEN: must not contain spaces, newlines or control characters (value not shown)"}},
		{"blank admin username", envMap{"CONNECTHUB_ADMIN_USERNAME": "  "},
			[]string{"CONNECTHUB_ADMIN_USERNAME: must not be empty"}},
		{"every problem at once", envMap{"CONNECTHUB_WORKERS": "-3", "CONNECTHUB_LOG_FORMAT": "xml"},
			[]string{"CONNECTHUB_WORKERS: must be >= 0, got -3", `CONNECTHUB_LOG_FORMAT: must be text or json, got "xml"`}},
		{"every parse problem at once", envMap{"CONNECTHUB_WORKERS": "x", "CONNECTHUB_HEARTBEAT": "y"},
			[]string{`CONNECTHUB_WORKERS: not an integer: "x"`, `CONNECTHUB_HEARTBEAT: not a duration: "y" (use Go syntax such as 30s, 5m or 1h30m)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tt.env.get, "")
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want an error", exported(c))
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("error lacks line %q; got:\n%v", w, err)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Variable, "CONNECTHUB_") {
				t.Errorf("error %v is not a *config.Error naming a variable", err)
			}
			for _, secret := range []string{"s3cr3t", "s3cr%zz"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestLoadNilGetenv(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen {
		t.Errorf("Listen = %q", c.Listen)
	}
}

func TestValidateRejectsWhatWithDefaultsCannotFix(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Timezone = "Nowhere/Special"
	c.Workers = -1
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	if c.Location() != time.UTC {
		t.Errorf("Location() of an invalid timezone = %v, want UTC", c.Location())
	}
	// Errors of a Config not built by Load carry no origin.
	if want := "CONNECTHUB_WORKERS: must be >= 0, got -1"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
}

func TestDBURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, driver, path string
	}{
		{"sqlite:///var/lib/hub/hub.db", DriverSQLite, "/var/lib/hub/hub.db"},
		{"sqlite://data/hub.db", DriverSQLite, "data/hub.db"},
		{"sqlite://./data/hub.db", DriverSQLite, "./data/hub.db"},
		{"SQLITE://hub.db", DriverSQLite, "hub.db"},
		{"sqlite3:///abs/hub.db", DriverSQLite, "/abs/hub.db"},
		{"sqlite:hub.db", DriverSQLite, "hub.db"},
		{"sqlite:///my%20data/hub.db", DriverSQLite, "/my data/hub.db"},
		{"sqlite:///C:/data/hub.db", DriverSQLite, "C:/data/hub.db"},
		{"file:hub.db", DriverSQLite, "hub.db"},
		{"file:/abs/hub.db", DriverSQLite, "/abs/hub.db"},
		{"file:///abs/hub.db", DriverSQLite, "/abs/hub.db"},
		{"file://localhost/abs/hub.db", DriverSQLite, "/abs/hub.db"},
		{"file://server/abs/hub.db", DriverSQLite, ""},
		{"sqlite://hub.db?mode=ro", DriverSQLite, ""},
		{"postgres://u:p@h:5432/db", DriverPostgres, ""},
		{"postgresql://h/db", DriverPostgres, ""},
		{"mysql://h/db", "", ""},
		{"hub.db", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		c := &Config{DBURL: tt.url}
		if got := c.DBDriver(); got != tt.driver {
			t.Errorf("DBDriver(%q) = %q, want %q", tt.url, got, tt.driver)
		}
		if got := c.SQLitePath(); got != tt.path {
			t.Errorf("SQLitePath(%q) = %q, want %q", tt.url, got, tt.path)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                             "0s",
		30 * time.Second:              "30s",
		10 * time.Minute:              "10m",
		12 * time.Hour:                "12h",
		90 * time.Minute:              "1h30m",
		time.Hour + time.Second:       "1h0m1s",
		1500 * time.Millisecond:       "1.5s",
		-time.Minute:                  "-1m",
		25*time.Hour + 30*time.Second: "25h0m30s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestVariablesMatchTheStruct(t *testing.T) {
	t.Parallel()
	names := Variables()
	// Every env-tagged field of Config, counted here independently of
	// Variables, is one variable.
	tagged := 0
	ct := reflect.TypeOf(Config{})
	for i := range ct.NumField() {
		if ct.Field(i).Tag.Get("env") != "" {
			tagged++
		}
	}
	if len(names) != tagged || tagged < 30 {
		t.Errorf("Variables() has %d names, Config has %d env fields: %q", len(names), tagged, names)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !strings.HasPrefix(n, "CONNECTHUB_") || seen[n] {
			t.Errorf("bad or duplicate variable %q", n)
		}
		seen[n] = true
	}
}
