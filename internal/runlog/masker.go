package runlog

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Redacted is the text that replaces every secret value in a run's log and
// message.
const Redacted = "******"

// minSecretLineLen is the shortest line of a multi-line secret (a PEM key, a
// service-account file) that is masked on its own. Shorter lines such as
// "}" or "-----" are too common in ordinary output: masking them would make
// logs unreadable without protecting anything.
const minSecretLineLen = 8

// Masker replaces secret values with [Redacted].
//
// Besides each raw value it masks the forms in which a handler is likely to
// print it without noticing: JSON-escaped (Go's escaping with and without HTML
// escapes, and the ASCII-only escaping of Python's json.dumps), URL-escaped
// (query and path escaping), the value without surrounding whitespace, and,
// for a multi-line value, each of its lines of at least 8 bytes, because the
// run log is line oriented. Overlapping and nested matches are merged and
// masked as a whole, so no part of any secret survives.
//
// A Masker is immutable after [NewMasker] and safe for concurrent use. The
// nil *Masker and a Masker without secrets return their input unchanged at
// the cost of one length check, which keeps logging cheap for the many jobs
// that have no secrets.
type Masker struct {
	patterns [][]byte // deduplicated, longest first
	strs     []string // the same patterns as strings, for allocation-free checks
	maxLen   int      // length of the longest pattern
}

// NewMasker builds a Masker for the given secret values once per run, so that
// masking a line costs one substring search per pattern. Empty values are
// ignored.
func NewMasker(secrets []string) *Masker {
	if len(secrets) == 0 {
		return &Masker{}
	}
	seen := make(map[string]struct{})
	add := func(s string) {
		if s != "" {
			seen[s] = struct{}{}
		}
	}
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		bases := []string{secret, strings.TrimSpace(secret)}
		if strings.ContainsAny(secret, "\r\n") {
			for line := range strings.Lines(secret) {
				if line = strings.TrimSpace(line); len(line) >= minSecretLineLen {
					bases = append(bases, line)
				}
			}
		}
		for _, b := range bases {
			if b == "" {
				continue
			}
			add(b)
			if isPlain(b) {
				continue // every escaped form is the value itself
			}
			add(jsonEscape(b, true))
			add(jsonEscape(b, false))
			add(jsonEscapeASCII(b))
			add(url.QueryEscape(b))
			add(url.PathEscape(b))
		}
	}
	m := &Masker{strs: make([]string, 0, len(seen))}
	for s := range seen {
		m.strs = append(m.strs, s)
	}
	// Longest first, so that of two patterns starting at the same place the
	// longer one is found first; ties sorted for deterministic behaviour.
	slices.SortFunc(m.strs, func(a, b string) int {
		if c := cmp.Compare(len(b), len(a)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	m.patterns = make([][]byte, len(m.strs))
	for i, s := range m.strs {
		m.patterns[i] = []byte(s)
	}
	if len(m.strs) > 0 {
		m.maxLen = len(m.strs[0])
	}
	return m
}

// Mask returns s with every occurrence of a secret value replaced by
// [Redacted]. It allocates only when s contains a secret.
func (m *Masker) Mask(s string) string {
	if !m.active() || !m.containsString(s) {
		return s
	}
	return string(m.appendMasked(make([]byte, 0, len(s)), []byte(s)))
}

// active reports whether the Masker has anything to mask.
func (m *Masker) active() bool { return m != nil && len(m.patterns) > 0 }

// containsString reports whether s contains any pattern, without allocating.
func (m *Masker) containsString(s string) bool {
	for _, p := range m.strs {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// span is a half-open byte range [start, end) of src to be masked.
type span struct{ start, end int }

// appendMasked appends src to dst with every match masked. Overlapping
// matches (of the same or of different patterns) are merged into one span, so
// that "abcdef" with secrets "abcd" and "cdef" becomes a single [Redacted]
// rather than leaking "ef".
func (m *Masker) appendMasked(dst, src []byte) []byte {
	if !m.active() {
		return append(dst, src...)
	}
	var stack [8]span
	spans := stack[:0]
	for _, p := range m.patterns {
		for from := 0; from <= len(src)-len(p); {
			i := bytes.Index(src[from:], p)
			if i < 0 {
				break
			}
			start := from + i
			spans = append(spans, span{start, start + len(p)})
			from = start + 1
		}
	}
	if len(spans) == 0 {
		return append(dst, src...)
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	pos := 0
	cur := spans[0]
	flush := func(s span) {
		dst = append(dst, src[pos:s.start]...)
		dst = append(dst, Redacted...)
		pos = s.end
	}
	for _, s := range spans[1:] {
		if s.start < cur.end {
			cur.end = max(cur.end, s.end)
			continue
		}
		flush(cur)
		cur = s
	}
	flush(cur)
	return append(dst, src[pos:]...)
}

// extendAcross returns a cut position at or after c such that no complete
// match in b straddles it: cutting b at the result never splits a secret that
// is entirely present in b between two emitted pieces.
func (m *Masker) extendAcross(b []byte, c int) int {
	if !m.active() {
		return c
	}
	for moved := true; moved; {
		moved = false
		for _, p := range m.patterns {
			// A match straddling c starts in [c-len(p)+1, c-1].
			lo := max(0, c-len(p)+1)
			hi := min(len(b), c+len(p)-1)
			for from := lo; from < c && from+len(p) <= hi; {
				i := bytes.Index(b[from:hi], p)
				if i < 0 {
					break
				}
				start := from + i
				if start >= c {
					break
				}
				if end := start + len(p); end > c {
					c = end
					moved = true
					break
				}
				from = start + 1
			}
		}
	}
	return c
}

// isPlain reports whether s consists only of characters that no JSON or URL
// escaping changes, which is true of most tokens and passwords and saves
// computing their escaped forms.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

// jsonEscape returns s as it appears inside a JSON string written by Go's
// encoding/json, with or without its HTML escaping of <, > and &.
func jsonEscape(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return "" // cannot happen for a string; an empty pattern is ignored
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return string(out[1 : len(out)-1])
}

// jsonEscapeASCII returns s as it appears inside a JSON string written with
// only ASCII characters, as Python's json.dumps and many other encoders do by
// default ("é" becomes "\u00e9").
func jsonEscapeASCII(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	u := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hex[(r>>shift)&0xf])
		}
	}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			u(r)
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			u(0xd800 + (r>>10)&0x3ff)
			u(0xdc00 + r&0x3ff)
		default:
			u(r)
		}
	}
	return b.String()
}
