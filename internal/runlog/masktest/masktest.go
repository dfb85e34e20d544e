// Package masktest lists the forms in which a handler may print a secret,
// for the tests that show each form is masked wherever a run's text is
// stored: the run log capture, the in-process worker and the server side of
// the worker protocol. The forms are computed here with the standard
// library alone, independently of the masker's own code, so that the tests
// check the masker against the encodings rather than against itself.
package masktest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Secret is a secret value whose forms all differ from one another: it has
// a space (a "+" or "%20" in URLs), characters JSON and URLs escape, a
// non-ASCII letter, and base64 encodings with "+" and "/" in them.
const Secret = `s3cr3t p@ss/wörd"?>~~~`

// Form is one way of printing a secret.
type Form struct {
	Name string
	// Encode returns the secret in this form.
	Encode func(secret string) string
	// Keep is how many characters of the encoded text may survive masking:
	// 0 for a form that is masked whole; for a secret embedded in a longer
	// base64 text, the characters of its neighbours and the up to two at
	// each end that mix their bits with the secret's.
	Keep int
}

// Forms are every form the masker promises to mask.
var Forms = []Form{
	{Name: "raw", Encode: func(s string) string { return s }},
	{Name: "JSON-escaped", Encode: func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	}},
	{Name: "URL query upper hex", Encode: url.QueryEscape},
	{Name: "URL query lower hex", Encode: func(s string) string { return lowerEscapes(url.QueryEscape(s)) }},
	{Name: "URL component upper hex", Encode: component},
	{Name: "URL component lower hex", Encode: func(s string) string { return lowerEscapes(component(s)) }},
	{Name: "URL path upper hex", Encode: url.PathEscape},
	{Name: "URL path lower hex", Encode: func(s string) string { return lowerEscapes(url.PathEscape(s)) }},
	{Name: "base64 std padded", Encode: func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }},
	{Name: "base64 std unpadded", Encode: func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }},
	{Name: "base64 url padded", Encode: func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }},
	{Name: "base64 url unpadded", Encode: func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }},
	{Name: "base64 embedded at offset 1", Encode: embedded(base64.StdEncoding, "u"), Keep: 8},
	{Name: "base64 embedded at offset 2 (Basic auth)", Encode: embedded(base64.StdEncoding, "user:"), Keep: 10},
	{Name: "base64 url embedded at offset 0", Encode: embedded(base64.RawURLEncoding, "abc"), Keep: 8},
	{Name: "hex lower", Encode: func(s string) string { return hex.EncodeToString([]byte(s)) }},
	{Name: "hex upper", Encode: func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }},
}

// embedded returns a form that encodes prefix+secret+"!" as one text, as an
// Authorization: Basic header does with "user:password".
func embedded(enc *base64.Encoding, prefix string) func(string) string {
	return func(s string) string { return enc.EncodeToString([]byte(prefix + s + "!")) }
}

// component escapes s as JavaScript's encodeURIComponent does: every byte
// but letters, digits and "-_.~" as %XX, a space as "%20".
func component(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func lowerEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			b.WriteByte('%')
			b.WriteString(strings.ToLower(s[i+1 : i+3]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Redacted is what the masker writes instead of a secret (runlog.Redacted,
// which this package cannot import: runlog's own tests use it).
const Redacted = "******"

// Text is the text a test handler prints: the form of the secret between
// two words, so that Check can tell what of it survived.
func Text(form Form, secret string) string { return Before + form.Encode(secret) + After }

// The words around the secret in Text.
const (
	Before = "before "
	After  = " after"
)

// Check returns "" when masked is Text(form, secret) masked as the form
// promises, else what is wrong: the encoded secret is replaced by
// Redacted, at most form.Keep of its characters survive, the words
// around it are intact, and the secret is not left in clear.
func Check(form Form, secret, masked string) string {
	encoded := form.Encode(secret)
	switch {
	case !strings.HasPrefix(masked, Before) || !strings.HasSuffix(masked, After):
		return fmt.Sprintf("the words around the secret were changed: %q", masked)
	case strings.Contains(masked, secret):
		return fmt.Sprintf("the secret survived in clear: %q", masked)
	case !strings.Contains(masked, Redacted):
		return fmt.Sprintf("nothing was masked: %q", masked)
	}
	middle := masked[len(Before) : len(masked)-len(After)]
	if left := len(strings.ReplaceAll(middle, Redacted, "")); left > form.Keep {
		return fmt.Sprintf("%d characters of %q survived (at most %d may): %q", left, encoded, form.Keep, masked)
	}
	return ""
}
