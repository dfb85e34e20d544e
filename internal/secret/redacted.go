package secret

import (
	"encoding/json"
	"log/slog"
)

// mask is what a Redacted value shows instead of itself.
const mask = "******"

// Redacted is a configuration value such as a token or password that must
// never appear in logs, JSON, `connecthub config` output or error messages.
// Every way of printing or encoding it (fmt's %v, %s, %q, %x and %#v,
// encoding/json, encoding.TextMarshaler users, log/slog) yields "******",
// or "" when it is empty so that "not set" stays visible. Use Reveal, or a
// plain string conversion, where the value is really needed.
//
// Decoding is not affected: environment, flag and JSON decoders fill a
// Redacted like any string.
//
// Two places cannot be covered by methods, so do not put a Redacted there:
// unexported struct fields printed with fmt (fmt cannot call their methods)
// and map keys (encoding/json writes string-kinded keys directly).
type Redacted string

// String returns "******", or "" for an empty value.
func (r Redacted) String() string {
	if r == "" {
		return ""
	}
	return mask
}

// GoString makes %#v print the mask too, which would otherwise show the
// value in struct dumps.
func (r Redacted) GoString() string { return r.String() }

// MarshalJSON encodes the mask as a JSON string.
func (r Redacted) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// MarshalText returns the mask, for encoders that use encoding.TextMarshaler
// (including map keys and slog's text handler).
func (r Redacted) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// LogValue makes slog log the mask, whatever the handler.
func (r Redacted) LogValue() slog.Value { return slog.StringValue(r.String()) }

// Reveal returns the secret value. Calling it is the one explicit way to
// get the value out, which makes every use easy to find.
func (r Redacted) Reveal() string { return string(r) }
