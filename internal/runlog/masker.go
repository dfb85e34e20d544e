package runlog

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Redacted is the text that replaces every secret value in what a run
// stores: its log, message, error, traceback and result.
const Redacted = "******"

// MinSecretRunes is the length, in characters, below which a secret value
// is not masked. Masking "abc" or "42" everywhere would garble ordinary
// output (every "42" in a count, every "abc" in a word) while hiding
// nothing an attacker could not guess; such values are not secrets worth
// the name.
const MinSecretRunes = 4

// minSecretLineLen is the shortest line of a multi-line secret (a PEM key, a
// service-account file) that is masked on its own. Shorter lines such as
// "}" or "-----" are too common in ordinary output: masking them would make
// logs unreadable without protecting anything.
const minSecretLineLen = 8

// minPatternLen is the length of the grams (byte sequences) by which
// patterns are found. Every pattern is at least this long: a secret has at
// least MinSecretRunes characters, hence bytes, and each of its encoded
// forms is at least as long as the part of the secret it encodes.
const minPatternLen = 4

// maxStride caps how far apart the positions are at which the text is
// sampled, so that the filter of grams stays sparse for long patterns.
const maxStride = 29

// filterBits sizes the gram filters: 2^16 bits (8 KiB) keep false hits at a
// few percent for the few hundred patterns of a run with many secrets.
const filterBits = 16

// filterWords is the size of a gram filter in 64-bit words.
const filterWords = 1 << filterBits / 64

// filter is a set of grams, with false positives.
type filter [filterWords]uint64

func (f *filter) add(k uint32) {
	h := filterHash(k)
	f[h>>6] |= 1 << (h & 63)
}

func (f *filter) has(k uint32) bool {
	h := filterHash(k)
	return f[(h>>6)%filterWords]&(1<<(h&63)) != 0
}

// Masker replaces secret values with [Redacted].
//
// Besides each raw value it masks the forms in which a handler is likely to
// print it without noticing:
//   - JSON-escaped: Go's escaping with and without HTML escapes, and the
//     ASCII-only escaping of Python's json.dumps;
//   - URL-escaped: query escaping ("+" for a space), the same with "%20"
//     (JavaScript's encodeURIComponent) and path escaping, each with
//     upper- and lower-case hex digits;
//   - base64 in the standard and the URL alphabet, padded or not, both as
//     a whole and embedded in a longer base64 text (as in a Basic
//     Authorization header), see below;
//   - hex, in lower and upper case;
//   - the value without surrounding whitespace and, for a multi-line value,
//     each of its lines of at least 8 bytes, because the run log is line
//     oriented.
//
// Base64 maps 3 bytes to 4 characters, so a secret inside a longer encoded
// text is encoded differently depending on its offset modulo 3. The Masker
// masks the characters that depend only on the secret at each of the three
// offsets; up to two characters at each end of such an embedded encoding
// mix the secret's bits with its neighbours' and are left, which reveals at
// most a few bits of it.
//
// Values shorter than [MinSecretRunes] characters are not masked. Overlapping
// and nested matches are merged and masked as a whole, so no part of any
// secret survives.
//
// Patterns are found in one pass that samples the text: every pattern is
// at least L bytes long, so any match contains one of the positions taken
// every L-3 bytes, and the 4 bytes there are looked up in a bit filter of
// the grams of the patterns' first L bytes. Only a hit is looked at more
// closely. A line without secrets thus costs about a nanosecond per byte
// (less for longer secrets, which allow sparser samples), whatever the
// number of secrets.
//
// A Masker is immutable after [NewMasker] or [Masker.With] and safe for
// concurrent use. The nil *Masker and a Masker without secrets return their
// input unchanged at the cost of one length check, which keeps logging cheap
// for the many jobs that have no secrets.
type Masker struct {
	sets   []*patternSet // the Masker's own and those it was built With
	head   *filter       // grams that start a pattern, of every set
	grams  *filter       // grams within the sampled part of a pattern, of every set
	stride int           // distance between sampled positions
	maxLen int           // length of the longest pattern
}

// patternSet is the patterns of one list of secrets, indexed by their first
// minPatternLen bytes.
type patternSet struct {
	byPrefix map[uint32][]string // longest first
	minLen   int
	maxLen   int
}

// addTo adds the set's grams to the Masker's filters: the first gram of
// each pattern to head, those at offsets 0 to stride-1 to grams.
func (set *patternSet) addTo(head, grams *filter, stride int) {
	for k, ps := range set.byPrefix {
		head.add(k)
		for _, p := range ps {
			for j := range stride {
				grams.add(prefixKey(p, j))
			}
		}
	}
}

// NewMasker builds a Masker for the given secret values. Build it once per
// run (or once per process for the server's own secrets, see
// [Masker.With]): building computes every encoded form of every value.
// Empty values and values shorter than [MinSecretRunes] are ignored.
func NewMasker(secrets []string) *Masker {
	return (*Masker)(nil).With(secrets)
}

// With returns a Masker that masks m's secrets and the given ones. m is
// unchanged. It lets the server build the masker of its own secrets once and
// add each run's secrets to it cheaply.
func (m *Masker) With(secrets []string) *Masker {
	set := newPatternSet(secrets)
	var out Masker
	if m != nil {
		out = *m
	}
	if set == nil {
		return &out
	}
	out.sets = append(slices.Clone(out.sets), set)
	out.maxLen = max(out.maxLen, set.maxLen)
	stride := min(set.minLen-minPatternLen+1, maxStride)
	out.head, out.grams = new(filter), new(filter)
	if m.active() && stride >= m.stride {
		// The sets so far keep their stride: copy their filters.
		*out.head, *out.grams = *m.head, *m.grams
		set.addTo(out.head, out.grams, m.stride)
		return &out
	}
	out.stride = stride
	for _, s := range out.sets {
		s.addTo(out.head, out.grams, stride)
	}
	return &out
}

// newPatternSet computes the patterns of secrets; nil when there are none.
func newPatternSet(secrets []string) *patternSet {
	seen := make(map[string]struct{})
	add := func(p string) {
		if len(p) >= minPatternLen {
			seen[p] = struct{}{}
		}
	}
	for _, secret := range secrets {
		if utf8.RuneCountInString(secret) < MinSecretRunes {
			continue
		}
		bases := []string{secret}
		if t := strings.TrimSpace(secret); t != secret {
			bases = append(bases, t)
		}
		if strings.ContainsAny(secret, "\r\n") {
			for line := range strings.Lines(secret) {
				if line = strings.TrimSpace(line); len(line) >= minSecretLineLen {
					bases = append(bases, line)
				}
			}
		}
		for _, b := range bases {
			if utf8.RuneCountInString(b) < MinSecretRunes {
				continue
			}
			for _, form := range encodedForms(b) {
				add(form)
			}
		}
	}
	if len(seen) == 0 {
		return nil
	}
	set := &patternSet{byPrefix: make(map[uint32][]string), minLen: math.MaxInt}
	for p := range seen {
		k := prefixKey(p, 0)
		set.byPrefix[k] = append(set.byPrefix[k], p)
		set.minLen = min(set.minLen, len(p))
		set.maxLen = max(set.maxLen, len(p))
	}
	// Longest first, so that of two patterns starting at the same place the
	// longer one is found first; ties sorted for deterministic behaviour.
	for _, ps := range set.byPrefix {
		slices.SortFunc(ps, func(a, b string) int {
			if c := cmp.Compare(len(b), len(a)); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
	}
	return set
}

// encodedForms returns b and every encoding of it the Masker looks for.
func encodedForms(b string) []string {
	forms := []string{b, hex.EncodeToString([]byte(b)), strings.ToUpper(hex.EncodeToString([]byte(b)))}
	if !isPlain(b) {
		// Query escaping writes "+" for a space; JavaScript's
		// encodeURIComponent and Python's quote escape the same characters
		// but write "%20" (a "+" of the value itself is "%2B" in both).
		q, p := url.QueryEscape(b), url.PathEscape(b)
		c := strings.ReplaceAll(q, "+", "%20")
		forms = append(forms, jsonEscape(b, true), jsonEscape(b, false), jsonEscapeASCII(b),
			q, p, c, lowerHexEscapes(q), lowerHexEscapes(p), lowerHexEscapes(c))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		raw := enc.WithPadding(base64.NoPadding)
		forms = append(forms, enc.EncodeToString([]byte(b)), raw.EncodeToString([]byte(b)))
		for offset := range 3 {
			forms = append(forms, base64Fragment(raw, b, offset))
		}
	}
	return forms
}

// base64Fragment returns the characters of the unpadded encoding of b
// preceded by offset bytes that depend on b's bits alone: those the
// encoding of any text with b at that offset (modulo 3) contains. At offset
// 0 and with a length that is a multiple of 3 it is the whole encoding.
func base64Fragment(enc *base64.Encoding, b string, offset int) string {
	buf := make([]byte, offset+len(b))
	copy(buf[offset:], b)
	text := enc.EncodeToString(buf)
	first := (8*offset + 5) / 6       // first character wholly after the prefix
	last := 8 * (offset + len(b)) / 6 // characters wholly inside the secret end here
	return text[first:last]
}

// lowerHexEscapes returns s with the hex digits of its %XX escapes in lower
// case, as some encoders write them.
func lowerHexEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerASCII(b[i+1])
			b[i+2] = lowerASCII(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// prefixKey returns the minPatternLen bytes of s at i as a number.
func prefixKey(s string, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

// filterHash maps a prefix to its bit in the filter (multiplicative
// hashing: the top bits of the product mix all four bytes).
func filterHash(k uint32) uint32 { return (k * 0x9E3779B1) >> (32 - filterBits) }

// Mask returns s with every occurrence of a secret value replaced by
// [Redacted]. It allocates only when s contains a secret.
func (m *Masker) Mask(s string) string {
	if !m.active() {
		return s
	}
	start, end := m.nextSpan(s, 0)
	if start < 0 {
		return s
	}
	return string(m.appendSpans(make([]byte, 0, len(s)), s, start, end))
}

// active reports whether the Masker has anything to mask.
func (m *Masker) active() bool { return m != nil && len(m.sets) > 0 }

// nextSpan returns the first span [start, end) of s at or after from that
// must be masked: a match and every match that overlaps it, transitively.
// start is -1 when there is none.
//
// Every pattern is at least stride+3 bytes long, so a match at p contains
// the gram at the one sampled position q in [p, p+stride-1]; a sample whose
// gram is in the filter is followed by a check of each position that could
// start such a match. Samples are taken in order and their candidate ranges
// do not overlap, so matches are found in the order of their start.
func (m *Masker) nextSpan(s string, from int) (start, end int) {
	start, end = -1, -1
	stride, head, grams := m.stride, m.head, m.grams
	for q := from + stride - 1; q+minPatternLen <= len(s); q += stride {
		if start >= 0 && q-stride+1 >= end {
			break
		}
		if !grams.has(prefixKey(s, q)) {
			continue
		}
		for p := max(from, q-stride+1); p <= q; p++ {
			if start >= 0 && p >= end {
				return start, end // a match from here on would only touch the span
			}
			k := prefixKey(s, p)
			if !head.has(k) {
				continue
			}
			if n := m.matchAt(s, p, k); n > 0 {
				if start < 0 {
					start, end = p, p+n
				} else {
					end = max(end, p+n)
				}
			}
		}
	}
	return start, end
}

// matchAt returns the length of the longest pattern at s[i:] whose prefix
// is k, or 0.
func (m *Masker) matchAt(s string, i int, k uint32) int {
	best := 0
	for _, set := range m.sets {
		for _, p := range set.byPrefix[k] {
			if len(p) > best && len(s)-i >= len(p) && s[i:i+len(p)] == p {
				best = len(p)
				break // longest first: the rest are shorter
			}
		}
	}
	return best
}

// appendSpans appends s to dst with the span [start, end), which nextSpan
// found, and every later one masked.
func (m *Masker) appendSpans(dst []byte, s string, start, end int) []byte {
	pos := 0
	for start >= 0 {
		dst = append(dst, s[pos:start]...)
		dst = append(dst, Redacted...)
		pos = end
		start, end = m.nextSpan(s, end)
	}
	return append(dst, s[pos:]...)
}

// appendMasked appends src to dst with every match masked. Overlapping
// matches (of the same or of different patterns) are merged into one span, so
// that "abcdef" with secrets "abcd" and "cdef" becomes a single [Redacted]
// rather than leaking "ef".
func (m *Masker) appendMasked(dst, src []byte) []byte {
	if !m.active() || len(src) == 0 {
		return append(dst, src...)
	}
	s := bytesView(src)
	start, end := m.nextSpan(s, 0)
	if start < 0 {
		return append(dst, src...)
	}
	return m.appendSpans(dst, s, start, end)
}

// bytesView returns b as a string without copying it. The string must not
// outlive the call that made it, and b must not change meanwhile: it lets
// the log path scan a line it owns without an allocation per line.
func bytesView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// extendAcross returns a cut position at or after c such that no complete
// match in b straddles it: cutting b at the result never splits a secret that
// is entirely present in b between two emitted pieces.
func (m *Masker) extendAcross(b []byte, c int) int {
	if !m.active() || len(b) == 0 {
		return c
	}
	s := bytesView(b)
	for start, end := m.nextSpan(s, 0); start >= 0 && start < c; start, end = m.nextSpan(s, end) {
		if end > c {
			return end
		}
	}
	return c
}

// MaskJSON returns the JSON text v with every string in it, and every
// object key, masked; a number whose text contains a secret becomes the
// string [Redacted]. v is returned unchanged (same bytes, same layout) when
// nothing in it is secret. Masking the decoded strings rather than the text
// finds a secret however the encoder escaped it. Two keys that are the same
// once masked are kept apart by a suffix (" (2)", " (3)" ...). A v that is
// not valid JSON is masked as text.
func (m *Masker) MaskJSON(v json.RawMessage) json.RawMessage {
	if !m.active() || len(v) == 0 {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return json.RawMessage(m.Mask(string(v)))
	}
	masked, changed := m.maskValue(doc)
	if !changed {
		return v
	}
	out, err := json.Marshal(masked)
	if err != nil {
		return json.RawMessage(m.Mask(string(v))) // cannot happen for decoded JSON
	}
	return out
}

// maskValue masks a decoded JSON value and reports whether it changed.
func (m *Masker) maskValue(v any) (any, bool) {
	switch v := v.(type) {
	case string:
		s := m.Mask(v)
		return s, s != v
	case json.Number:
		if m.Mask(string(v)) != string(v) {
			return Redacted, true
		}
		return v, false
	case []any:
		changed := false
		for i, e := range v {
			var c bool
			if v[i], c = m.maskValue(e); c {
				changed = true
			}
		}
		return v, changed
	case map[string]any:
		changed := false
		out := make(map[string]any, len(v))
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range v {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			e, c := m.maskValue(v[k])
			mk := m.Mask(k)
			if mk != k {
				c = true
				for n := 2; ; n++ {
					if _, taken := v[mk]; !taken {
						if _, taken = out[mk]; !taken {
							break
						}
					}
					mk = m.Mask(k) + " (" + itoa(n) + ")"
				}
			}
			out[mk] = e
			changed = changed || c
		}
		return out, changed
	default:
		return v, false
	}
}

// itoa formats a small positive number.
func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
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
