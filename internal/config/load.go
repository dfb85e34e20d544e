package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
)

// Override is a setting given on the command line, such as --listen. It wins
// over both the environment and the .env file, and is applied before derived
// defaults are computed, so that --data-dir also moves the default database
// and key file.
type Override struct {
	// Variable is the environment variable the flag stands for, such as
	// "CONNECTHUB_LISTEN".
	Variable string
	// Value is the flag's value; "" means the flag was not given.
	Value string
	// Flag names the flag in error messages, such as "--listen".
	Flag string
}

// Error reports one bad setting. Load and Validate return one per problem,
// joined with errors.Join, so an operator sees every mistake at once.
type Error struct {
	// Variable is the environment variable, such as "CONNECTHUB_WORKERS".
	Variable string
	// Message says what is wrong, without the value when it is a secret.
	Message string
	// Origin says where the value was set when it was not a real
	// environment variable, such as ".env file ./.env" or "flag --workers".
	Origin string
}

// Error formats as "CONNECTHUB_WORKERS: must be >= 0, got -1", with the
// origin appended in parentheses when the value did not come from the
// environment, so the operator knows which file or flag to fix.
func (e *Error) Error() string {
	s := e.Variable + ": " + e.Message
	if e.Origin != "" {
		s += " (from " + e.Origin + ")"
	}
	return s
}

// variable describes one Config field that is read from the environment.
type variable struct {
	name  string // the environment variable
	field string // the Go field name, as reported by env.ParseError
}

// variables lists the settings in the order of the Config struct, which is
// also the order Redacted reports them in.
var variables = func() []variable {
	t := reflect.TypeFor[Config]()
	var vs []variable
	for f := range t.Fields() {
		if name := f.Tag.Get("env"); name != "" {
			vs = append(vs, variable{name: name, field: f.Name})
		}
	}
	return vs
}()

// Variables returns the names of all environment variables ConnectHub reads,
// in a stable order.
func Variables() []string {
	names := make([]string, len(variables))
	for i, v := range variables {
		names[i] = v.name
	}
	return names
}

func isVariable(name string) bool {
	return slices.ContainsFunc(variables, func(v variable) bool { return v.name == name })
}

// Load builds the configuration. For each variable the first non-empty value
// wins, in this order: an override (a command-line flag), getenv (the real
// environment), the .env file at dotenvPath, the default. An empty value
// counts as unset, so a variable exported as "" does not hide the .env file.
//
// dotenvPath "" means no .env file; a path that does not exist is fine,
// since the file is optional, but one that cannot be read or parsed is an
// error naming it. The .env file only configures ConnectHub: it is not
// exported to the process environment, so handlers do not see it.
//
// Load derives the defaults that depend on the data directory and validates.
// A variable set to a zero value, such as CONNECTHUB_LEASE_TTL=0s, is
// validated as given rather than replaced by the default. Its errors are
// *Error values naming the variable, joined with errors.Join. A nil getenv
// is an empty environment.
func Load(getenv func(string) string, dotenvPath string, overrides ...Override) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	dotenv, err := readDotenv(dotenvPath)
	if err != nil {
		return nil, err
	}

	c := base()
	c.sources = make(map[string]string, len(variables))
	c.origins = make(map[string]string)
	// The environment is built from the known names only: env.Options
	// falls back to os.Environ when Environment is nil, and Load must never
	// read the process environment behind its caller's back.
	environment := make(map[string]string, len(variables))
	for _, v := range variables {
		c.sources[v.name] = SourceDefault
		if val := getenv(v.name); val != "" {
			environment[v.name] = val
			c.sources[v.name] = SourceEnv
		} else if val := dotenv[v.name]; val != "" {
			environment[v.name] = val
			c.sources[v.name] = SourceDotenv
			c.origins[v.name] = ".env file " + dotenvPath
		}
	}
	for _, o := range overrides {
		if !isVariable(o.Variable) {
			return nil, fmt.Errorf("config: override for unknown variable %q", o.Variable)
		}
		if o.Value == "" {
			continue
		}
		environment[o.Variable] = o.Value
		c.sources[o.Variable] = SourceFlag
		c.origins[o.Variable] = "flag " + o.Flag
		if o.Flag == "" {
			c.origins[o.Variable] = "a command-line flag"
		}
	}

	if err := env.ParseWithOptions(c, env.Options{Environment: environment, FuncMap: parsers}); err != nil {
		return nil, c.parseErrors(err)
	}
	c.warnings = dotenvWarnings(dotenv, dotenvPath)
	c.normalize()
	c.derive()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseErrors turns the env library's errors, which name Go fields, into
// errors that name the variable the operator set.
func (c *Config) parseErrors(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("config: %w", err)
	}
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			errs = append(errs, fmt.Errorf("config: %w", e))
			continue
		}
		name := pe.Name
		for _, v := range variables {
			if v.field == pe.Name {
				name = v.name
			}
		}
		errs = append(errs, &Error{Variable: name, Message: pe.Err.Error(), Origin: c.origins[name]})
	}
	return errors.Join(errs...)
}

// parsers replace the env library's parsers for the scalar types we use,
// because theirs report Go's strconv errors; ours say what was expected in
// terms an operator can act on. Surrounding whitespace, an easy mistake in
// a .env file or a Kubernetes manifest, is ignored.
var parsers = map[reflect.Type]env.ParserFunc{
	reflect.TypeFor[time.Duration](): func(s string) (any, error) {
		t := strings.TrimSpace(s)
		// Whole days ("365d"), which retention periods are counted in and
		// Go's syntax lacks.
		if days, ok := strings.CutSuffix(t, "d"); ok {
			if n, err := strconv.ParseInt(days, 10, 32); err == nil && n >= 0 && n <= 100000 {
				return time.Duration(n) * 24 * time.Hour, nil
			}
		}
		d, err := time.ParseDuration(t)
		if err != nil {
			return nil, fmt.Errorf("not a duration: %q (use Go syntax such as 30s, 5m or 1h30m)", s)
		}
		return d, nil
	},
	reflect.TypeFor[int](): func(s string) (any, error) {
		n, err := parseInt(s, strconv.IntSize)
		return int(n), err
	},
	reflect.TypeFor[int64](): func(s string) (any, error) {
		return parseInt(s, 64)
	},
	reflect.TypeFor[bool](): func(s string) (any, error) {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "1", "yes", "on", "t", "y":
			return true, nil
		case "false", "0", "no", "off", "f", "n":
			return false, nil
		}
		return nil, fmt.Errorf("not a boolean: %q (use true or false)", s)
	},
}

func parseInt(s string, bits int) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("out of range: %q", s)
	}
	if err != nil {
		return 0, fmt.Errorf("not an integer: %q", s)
	}
	return n, nil
}

// normalize tidies values whose spelling should not matter: the case of
// enumerations and blanks around queue names.
func (c *Config) normalize() {
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	if c.LogLevel == "warning" {
		c.LogLevel = "warn"
	}
	var queues []string
	for _, q := range c.Queues {
		q = strings.TrimSpace(q)
		if q != "" && !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	c.Queues = queues
	c.HTTPCallDeny = trimList(c.HTTPCallDeny)
	c.HTTPCallAllow = trimList(c.HTTPCallAllow)
	c.ShellUser = strings.TrimSpace(c.ShellUser)
	c.TrustedProxies = trimList(c.TrustedProxies)
	c.OIDCScopes = trimList(c.OIDCScopes)
	c.OIDCIssuer = strings.TrimSpace(c.OIDCIssuer)
	c.OIDCClientID = strings.TrimSpace(c.OIDCClientID)
	c.OIDCName = strings.TrimSpace(c.OIDCName)
}

// trimList drops the blanks around a list's entries and the empty ones.
func trimList(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// readDotenv reads the optional .env file. A missing file is not an error:
// the file is a convenience, and most deployments configure through the
// real environment.
func readDotenv(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: reading .env file: %w", err)
	}
	m, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, fmt.Errorf("config: .env file %s is malformed: %s", path, describeDotenvError(data, err))
	}
	if _, ok := m[""]; ok {
		return nil, fmt.Errorf("config: .env file %s is malformed: a line has no NAME=value assignment", path)
	}
	return m, nil
}

// describeDotenvError rewrites a godotenv parse error without the file
// content it quotes (which may be a password) and with the line number
// instead. godotenv reports the rest of the file after the bad statement,
// so the statement's position is found by searching for that text.
func describeDotenvError(data []byte, err error) string {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	msg := err.Error()
	lineOf := func(snippet string) string {
		if i := bytes.Index(data, []byte(snippet)); snippet != "" && i >= 0 {
			return fmt.Sprintf("line %d: ", bytes.Count(data[:i], []byte("\n"))+1)
		}
		return ""
	}
	if before, near, ok := strings.Cut(msg, " near "); ok && strings.HasPrefix(msg, "unexpected character") {
		snippet, uerr := strconv.Unquote(near)
		if uerr != nil {
			snippet = ""
		}
		if strings.HasPrefix(before, `unexpected character "\n"`) {
			// A line with no "=" runs into the next line.
			return lineOf(snippet) + "expected NAME=value"
		}
		return lineOf(snippet) + before
	}
	const unterminated = "unterminated quoted value "
	if rest, ok := strings.CutPrefix(msg, unterminated); ok {
		return lineOf(rest) + strings.TrimSpace(unterminated)
	}
	return "cannot parse it (check quoting and variable names)"
}

// dotenvWarnings reports CONNECTHUB_ variables in the .env file that
// ConnectHub does not read: almost always a typo that would otherwise be
// silently ignored. Other variables are left alone, since a .env file is
// often shared with other tools.
func dotenvWarnings(dotenv map[string]string, path string) []string {
	var warnings []string
	for key := range dotenv {
		if !strings.HasPrefix(key, "CONNECTHUB_") || isVariable(key) {
			continue
		}
		w := fmt.Sprintf(".env file %s: unknown variable %s is ignored", path, key)
		if guess := closestVariable(key); guess != "" {
			w += " (did you mean " + guess + "?)"
		}
		warnings = append(warnings, w)
	}
	slices.Sort(warnings)
	return warnings
}

// closestVariable returns the known variable nearest to name by edit
// distance, if it is near enough to be a plausible typo.
func closestVariable(name string) string {
	best, bestDist := "", 4
	for _, v := range variables {
		if d := editDistance(name, v.name); d < bestDist {
			best, bestDist = v.name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between two ASCII strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
