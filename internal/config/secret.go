package config

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Redacted is what a non-empty secret prints as, everywhere.
const redacted = "******"

// Secret is a string that never shows its value by accident: printing it
// with any fmt verb, marshaling it to JSON or text, or logging it with slog
// yields "******". An empty secret prints as "" so that an operator can still
// tell "not set" from "set". The real value is only available from Value,
// which makes every place that needs it easy to find and review.
//
// The one verb no method can intercept is %p, which fmt handles first; it
// is meaningless for a string and go vet reports it.
type Secret string

// Value returns the secret in clear. Call it only where the value is used
// (comparing a token, deriving a key), never to print it.
func (s Secret) Value() string { return string(s) }

// String returns "******", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format implements fmt.Formatter. It is needed on top of String because fmt
// prints the underlying string, value included, for verbs a Stringer does
// not handle (such as %d in a mistaken format string).
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		_, _ = fmt.Fprint(f, strconv.Quote(s.String()))
	case 'v':
		if f.Flag('#') {
			_, _ = fmt.Fprint(f, s.GoString())
			return
		}
		_, _ = fmt.Fprint(f, s.String())
	default:
		_, _ = fmt.Fprint(f, s.String())
	}
}

// MarshalText implements encoding.TextMarshaler (and so JSON) with the
// redacted form. There is deliberately no UnmarshalText: a redacted value
// read back would silently replace the real secret with "******".
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON implements json.Marshaler with the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// LogValue implements slog.LogValuer so that a secret passed to a logger is
// redacted by every handler, text or JSON.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
