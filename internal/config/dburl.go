package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Database drivers, as returned by DBDriver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// scheme returns the lower-cased URL scheme of raw, or "" if it has none.
func scheme(raw string) string {
	i := strings.IndexByte(raw, ':')
	if i <= 0 {
		return ""
	}
	return strings.ToLower(raw[:i])
}

// DBDriver returns DriverSQLite for sqlite://, sqlite3:// and file: URLs,
// DriverPostgres for postgres:// and postgresql:// URLs, and "" for anything
// else (which Validate rejects).
func (c *Config) DBDriver() string {
	switch scheme(c.DBURL) {
	case "sqlite", "sqlite3", "file":
		return DriverSQLite
	case "postgres", "postgresql":
		return DriverPostgres
	}
	return ""
}

// SQLitePath returns the database file of a SQLite URL, or "" if DBURL is
// not a valid SQLite URL. The part after "sqlite://" is the path as
// written, so both forms work:
//
//	sqlite:///var/lib/connecthub/connecthub.db  →  /var/lib/connecthub/connecthub.db
//	sqlite://data/connecthub.db                 →  data/connecthub.db (relative to the working directory)
//
// file: URLs follow RFC 8089 (file:///abs/path, file:relative/path), and
// percent-escapes are decoded in both.
func (c *Config) SQLitePath() string {
	if c.DBDriver() != DriverSQLite {
		return ""
	}
	p, err := sqlitePath(c.DBURL)
	if err != nil {
		return ""
	}
	return p
}

func sqlitePath(raw string) (string, error) {
	s := scheme(raw)
	rest := raw[len(s)+1:]
	if strings.ContainsAny(rest, "?#") {
		return "", errors.New("a SQLite URL takes no ?query or #fragment: ConnectHub sets the SQLite options itself (write a literal ? or # in a path as %3F or %23)")
	}
	if r, ok := strings.CutPrefix(rest, "//"); ok {
		rest = r
		if s == "file" {
			// In file://host/path, only an empty host or localhost is
			// this machine.
			host, path, _ := strings.Cut(rest, "/")
			if host != "" && !strings.EqualFold(host, "localhost") {
				return "", fmt.Errorf("a file: URL must name a local file, got host %q (use file:///absolute/path.db)", host)
			}
			rest = "/" + path
		}
	}
	path, err := url.PathUnescape(rest)
	if err != nil {
		return "", errors.New("invalid %-escape in the SQLite path (write a literal % as %25)")
	}
	// sqlite:///C:/data/connecthub.db on Windows.
	if len(path) >= 3 && path[0] == '/' && path[2] == ':' && isASCIILetter(path[1]) {
		path = path[1:]
	}
	if path == "" || path == "/" {
		return "", errors.New("a SQLite URL needs a file path, such as sqlite:///var/lib/connecthub/connecthub.db or sqlite://data/connecthub.db")
	}
	return path, nil
}

func isASCIILetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// checkDBURL validates CONNECTHUB_DB_URL. Its messages never include the
// URL itself, which may hold a password.
func checkDBURL(raw string) error {
	if raw == "" {
		return errors.New("must not be empty")
	}
	c := Config{DBURL: raw}
	switch c.DBDriver() {
	case DriverSQLite:
		_, err := sqlitePath(raw)
		return err
	case DriverPostgres:
		if !strings.HasPrefix(strings.ToLower(raw), scheme(raw)+"://") {
			return errors.New("a PostgreSQL URL looks like postgres://user:password@host:5432/dbname?sslmode=disable")
		}
		_, err := parseURL(raw)
		return err
	}
	if s := scheme(raw); s != "" && !strings.ContainsAny(s, `/\. `) {
		return fmt.Errorf("unsupported database %q: use sqlite:// or postgres://", s)
	}
	return errors.New("must be a URL such as sqlite://data/connecthub.db or postgres://user:password@host:5432/dbname")
}

// redactURL hides the password in a URL's user information and the values
// of query parameters that look like credentials (password=, sslpassword=,
// …). SQLite URLs carry no credentials and are returned unchanged. A URL
// that cannot be parsed is hidden entirely, since its parts cannot be told
// apart.
func redactURL(raw string) string {
	switch scheme(raw) {
	case "sqlite", "sqlite3", "file":
		return raw
	}
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return redacted
	}
	// url.URL.String would percent-encode "******" in the user information,
	// so a plain placeholder is substituted afterwards.
	const placeholder = "CONNECTHUBREDACTEDVALUE"
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			u.User = url.UserPassword(u.User.Username(), placeholder)
		}
	}
	if u.RawQuery != "" {
		params := strings.Split(u.RawQuery, "&")
		for i, param := range params {
			key, _, _ := strings.Cut(param, "=")
			name, err := url.QueryUnescape(key)
			if err != nil || isCredentialParam(name) {
				params[i] = key + "=" + placeholder
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	return strings.ReplaceAll(u.String(), placeholder, redacted)
}

func isCredentialParam(name string) bool {
	name = strings.ToLower(name)
	for _, s := range []string{"pass", "pwd", "secret", "token"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}
