package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Setting is one line of the effective configuration.
type Setting struct {
	// Name is the environment variable, such as "CONNECTHUB_LISTEN".
	Name string
	// Value is the effective value as an operator would write it, with
	// secrets shown as "******" (an unset secret is "").
	Value string
	// Source is SourceDefault, SourceEnv, SourceDotenv or SourceFlag. A
	// Config that was not built by Load reports every value as default.
	Source string
}

// Redacted returns the effective configuration, one Setting per variable in
// a stable order, for `connecthub config` and startup logs. Tokens and
// passwords print as "******", and so does the password inside the database
// or server URL: the output is safe to paste into a bug report.
func (c *Config) Redacted() []Setting {
	rv := reflect.ValueOf(c).Elem()
	settings := make([]Setting, 0, len(variables))
	for _, v := range variables {
		source := c.sources[v.name]
		if source == "" {
			source = SourceDefault
		}
		settings = append(settings, Setting{
			Name:   v.name,
			Value:  display(v.name, rv.FieldByName(v.field).Interface()),
			Source: source,
		})
	}
	return settings
}

// display formats one setting's value. Secrets are handled by their type,
// so a new Secret field is redacted without changes here; URLs, which are
// plain strings, are redacted by name.
func display(name string, value any) string {
	switch v := value.(type) {
	case Secret:
		return v.String()
	case string:
		if strings.HasSuffix(name, "_URL") {
			return redactURL(v)
		}
		return v
	case time.Duration:
		return formatDuration(v)
	case []string:
		return strings.Join(v, ",")
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	// Unreachable for the current fields; a new field type must be added
	// above, and the redaction test fails until it is.
	return fmt.Sprintf("<%T>", value)
}

// Format implements fmt.Formatter so that printing a Config, with any verb,
// shows the redacted settings instead of its fields: DBURL is a plain string
// that may hold a password. It has a value receiver so that both Config and
// *Config are covered.
func (c Config) Format(f fmt.State, _ rune) {
	settings := c.Redacted()
	parts := make([]string, len(settings))
	for i, s := range settings {
		parts[i] = s.Name + "=" + s.Value
	}
	_, _ = fmt.Fprint(f, "{"+strings.Join(parts, " ")+"}")
}

// LogValue implements slog.LogValuer with the redacted settings, so logging
// the configuration at startup is safe.
func (c Config) LogValue() slog.Value {
	settings := c.Redacted()
	attrs := make([]slog.Attr, len(settings))
	for i, s := range settings {
		attrs[i] = slog.String(s.Name, s.Value)
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the redacted settings as an object keyed by variable
// name, in the same order as Redacted, for `connecthub config --json`.
func (c Config) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, s := range c.Redacted() {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(s.Name)
		value, _ := json.Marshal(s.Value)
		b.Write(name)
		b.WriteByte(':')
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
