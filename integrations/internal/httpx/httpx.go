// Package httpx holds the small HTTP helpers the integration clients share:
// bounded body reads and error text that is safe to show, because it never
// carries a URL (whose query may hold a token or a signature) or a secret.
package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Redacted replaces a secret value in error text.
const Redacted = "******"

// ReadBody reads all of r, failing when it holds more than limit bytes: a
// misbehaving server must not make a worker buffer an unbounded body.
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the response body is larger than %d bytes", limit)
	}
	return b, nil
}

// TransportError returns err (from http.Client.Do) without the *url.Error
// wrapper, whose message repeats the request URL: a GET's query may hold an
// access token and a signature. The cause keeps its chain, so errors.Is
// still finds context.Canceled or context.DeadlineExceeded.
func TransportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// Snippet returns the start of a response body for an error message: on one
// line, at most max bytes (cut at a character boundary, "…" appended when
// cut), with every non-empty value of secrets replaced by Redacted.
func Snippet(body []byte, max int, secrets ...string) string {
	s := Redact(string(body), secrets...)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Redact replaces every non-empty value of secrets in s with Redacted.
func Redact(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}
