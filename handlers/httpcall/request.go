package httpcall

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/connecthub/connecthub/handler"
)

// parse decodes and validates the task's public_cfg and substitutes its
// secrets. It also returns the function that masks the task's secret values.
func parse(t *handler.Task) (*request, func(string) string, error) {
	var cfg config
	if err := t.Decode(&cfg); err != nil {
		return nil, nil, err
	}
	redact := newRedactor(t.Secrets)
	req, err := build(cfg, t.Secrets, redact)
	if err != nil {
		return nil, nil, handler.Permanent(err)
	}
	return req, redact, nil
}

// build validates cfg and substitutes the secrets. Its errors are
// configuration errors; they name the field and quote what the user wrote,
// never a substituted value.
func build(cfg config, secrets map[string]string, redact func(string) string) (*request, error) {
	req := &request{method: cfg.Method, display: strings.TrimSpace(cfg.URL), header: make(http.Header)}

	if req.method == "" {
		req.method = http.MethodGet
	}
	if !slices.Contains(methods, req.method) {
		return nil, fmt.Errorf("method %q is not supported (use one of %s)", cfg.Method, strings.Join(methods, ", "))
	}

	if req.display == "" {
		return nil, errors.New("url is required")
	}
	rawURL, err := expand(req.display, "url", secrets, nil)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("url %q is not a valid URL: %s", req.display, redact(err.Error()))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: the scheme must be http or https", req.display)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q has no host", req.display)
	}
	req.url = u

	// Sorted, so that the first bad header reported is the same every time.
	for _, name := range slices.Sorted(maps.Keys(cfg.Headers)) {
		n, err := expand(name, "headers", secrets, nil)
		if err != nil {
			return nil, err
		}
		v, err := expand(cfg.Headers[name], "headers."+name, secrets, nil)
		if err != nil {
			return nil, err
		}
		if !validHeaderName(n) {
			return nil, fmt.Errorf("headers: %q is not a valid header name", name)
		}
		if !validHeaderValue(v) {
			return nil, fmt.Errorf("headers.%s: the value contains a line break or another control character", name)
		}
		if http.CanonicalHeaderKey(n) == "Host" {
			req.host = v
			continue
		}
		req.header.Add(n, v)
	}

	if err := req.setBody(cfg.Body, secrets); err != nil {
		return nil, err
	}

	for _, s := range cfg.ExpectStatus {
		if s < 100 || s > 599 {
			return nil, fmt.Errorf("expect_status: %d is not an HTTP status code (100-599)", s)
		}
	}
	if len(cfg.ExpectStatus) > 0 {
		req.expect = cfg.ExpectStatus
	}

	switch cfg.FollowRedirects {
	case "":
		req.follow = FollowSameHost
	case FollowSameHost, FollowNone, FollowAny:
		req.follow = cfg.FollowRedirects
	default:
		return nil, fmt.Errorf("follow_redirects %q must be %q, %q or %q", cfg.FollowRedirects, FollowSameHost, FollowNone, FollowAny)
	}

	req.timeout = DefaultTimeout
	if cfg.Timeout != "" {
		d, err := time.ParseDuration(cfg.Timeout)
		if err != nil {
			return nil, fmt.Errorf("timeout %q is not a duration such as \"30s\" or \"1m30s\"", cfg.Timeout)
		}
		if d < 0 {
			return nil, fmt.Errorf("timeout %q must not be negative", cfg.Timeout)
		}
		req.timeout = d
	}
	return req, nil
}

// setBody prepares the request body: a JSON string is sent as its text, an
// object or array as JSON (Content-Type application/json unless a header
// sets one), null as no body.
func (r *request) setBody(raw json.RawMessage, secrets map[string]string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("body: %w", err)
		}
		s, err := expand(s, "body", secrets, nil)
		if err != nil {
			return err
		}
		r.body, r.hasBody = []byte(s), true
	case '{', '[':
		// In valid JSON, "{{" can only occur inside a string literal, so
		// substituting in the JSON text with JSON-escaped values replaces
		// the placeholders in every string while keeping the document's key
		// order and number formatting exactly as written.
		s, err := expand(string(raw), "body", secrets, jsonEscape)
		if err != nil {
			return err
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(s)); err != nil {
			return fmt.Errorf("body: %w", err)
		}
		r.body, r.hasBody = compact.Bytes(), true
		if r.header.Get("Content-Type") == "" {
			r.header.Set("Content-Type", "application/json")
		}
	default:
		return errors.New("body must be a string, an object or an array")
	}
	return nil
}

// secretRef matches a {{secret.KEY}} placeholder; spaces inside the braces
// are allowed, as template users tend to write them.
var secretRef = regexp.MustCompile(`\{\{ *secret\.([A-Za-z0-9_.\-]+) *\}\}`)

// expand replaces the placeholders in s with the secrets' values, passed
// through escape when it is not nil. An unknown key is an error that names
// the key and the field, not any value.
func expand(s, field string, secrets map[string]string, escape func(string) string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	matches := secretRef.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		key := s[m[2]:m[3]]
		value, ok := secrets[key]
		if !ok {
			return "", fmt.Errorf("%s: unknown secret %q: secret_cfg has no such key", field, key)
		}
		if escape != nil {
			value = escape(value)
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(value)
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// jsonEscape returns s as the inside of a JSON string literal, without the
// HTML escaping of encoding/json that would change "<" or "&" in a body the
// user wrote.
func jsonEscape(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return string(out[1 : len(out)-1])
}

// newRedactor returns a function that masks every non-empty secret value,
// longest first so that a secret containing another is masked whole.
func newRedactor(secrets map[string]string) func(string) string {
	values := make([]string, 0, len(secrets))
	for _, v := range secrets {
		if v != "" {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return func(s string) string { return s }
	}
	slices.SortFunc(values, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(values))
	for _, v := range values {
		pairs = append(pairs, v, Redacted)
	}
	return strings.NewReplacer(pairs...).Replace
}

// cutIncompleteRune drops a UTF-8 sequence that the MaxBodyBytes cut split,
// so that the returned body does not end in a garbled character.
func cutIncompleteRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			return b
		}
	}
	return b
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s has no control characters other than
// horizontal tab, which would let a value split the request.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
