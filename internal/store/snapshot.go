package store

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
)

// DecodeSnapshot decodes a snapshot column into s, exactly as
// json.Unmarshal(b, s) would, and faster.
//
// Every claimed run's snapshot is decoded, and with encoding/json that was
// a third of a node's CPU at high throughput: reflection, a validation pass
// over the input, and two nested json.Unmarshal calls per run for the
// durations. The column is always written by encodeSnapshot (json.Marshal
// of connecthub.Snapshot), so a reader that knows that shape decodes it in
// one pass. Anything the reader does not expect (an unknown or differently
// cased key, an escaped string, a null where the encoder writes a value, a
// number where it writes a duration string, invalid JSON) makes it give up
// and leave the whole input to encoding/json, so results and errors are
// always encoding/json's; TestDecodeSnapshotMatchesEncodingJSON and its
// fuzz target hold the two to that.
func DecodeSnapshot(b []byte, s *connecthub.Snapshot) error {
	var fast connecthub.Snapshot
	if r := (snapshotReader{b: b}); r.snapshot(&fast) {
		fast.SecretCfg = s.SecretCfg // not in the JSON (`json:"-"`): keep it
		*s = fast
		return nil
	}
	return json.Unmarshal(b, s)
}

// snapshotReader reads the JSON of a connecthub.Snapshot as encodeSnapshot
// writes it. Its methods report false, having consumed an unspecified part
// of the input, when the input is not in the shape they expect.
type snapshotReader struct {
	b []byte
	i int
}

// maxSkipDepth bounds the nesting of the public_cfg value the reader skips
// over; deeper documents are left to encoding/json (which has its own
// limit).
const maxSkipDepth = 512

func (r *snapshotReader) snapshot(s *connecthub.Snapshot) bool {
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "handler":
			return r.plainString(&s.Handler)
		case "public_cfg":
			start := r.i
			if !r.skipValue(0) {
				return false
			}
			// encoding/json hands json.RawMessage a copy of the value's
			// bytes, null included.
			s.PublicCfg = append(json.RawMessage(nil), r.b[start:r.i]...)
			return true
		case "secret_keys":
			return r.stringList(&s.SecretKeys)
		case "has_secret":
			return r.boolean(&s.HasSecret)
		case "timeout":
			return r.duration(&s.Timeout)
		case "max_attempts":
			return r.integer(&s.MaxAttempts)
		case "retry_backoff":
			return r.duration(&s.RetryBackoff)
		case "meta":
			return r.meta(&s.Meta)
		}
		return false // unknown, or matching a field only case-insensitively
	}) && r.end()
}

func (r *snapshotReader) meta(m *connecthub.SnapshotMeta) bool {
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "trigger":
			var t string
			if !r.plainString(&t) {
				return false
			}
			m.Trigger = connecthub.Trigger(t)
			return true
		case "retry_of":
			return r.plainString(&m.RetryOf)
		case "scheduled_for":
			start := r.i
			var ignored string
			if !r.plainString(&ignored) {
				return false
			}
			// What encoding/json calls for a time.Time.
			return m.ScheduledFor.UnmarshalJSON(r.b[start:r.i]) == nil
		case "requested_by":
			return r.plainString(&m.RequestedBy)
		}
		return false
	})
}

// object reads an object, calling field for each key with the reader at
// the key's value; field must consume the value.
func (r *snapshotReader) object(field func(key []byte) bool) bool {
	if !r.consume('{') {
		return false
	}
	if r.consume('}') {
		return true
	}
	for {
		r.ws()
		key, ok := r.plainBytes()
		if !ok || !r.consume(':') {
			return false
		}
		r.ws()
		if !field(key) {
			return false
		}
		if r.consume('}') {
			return true
		}
		if !r.consume(',') {
			return false
		}
	}
}

// end reports whether only whitespace is left.
func (r *snapshotReader) end() bool {
	r.ws()
	return r.i == len(r.b)
}

func (r *snapshotReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// consume skips whitespace and then c, reporting whether c was there.
func (r *snapshotReader) consume(c byte) bool {
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// plainBytes reads a string without escapes or control characters, whose
// value is its bytes, and returns them (not copied). Invalid UTF-8, which
// encoding/json would replace, is not plain.
func (r *snapshotReader) plainBytes() ([]byte, bool) {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, false
	}
	start := r.i + 1
	ascii := true
	for i := start; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			s := r.b[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			r.i = i + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func (r *snapshotReader) plainString(dst *string) bool {
	s, ok := r.plainBytes()
	if ok {
		*dst = string(s)
	}
	return ok
}

// stringList reads null (nil, as encoding/json leaves a nil slice) or an
// array of plain strings (never nil, as encoding/json makes "[]").
func (r *snapshotReader) stringList(dst *[]string) bool {
	if r.literal("null") {
		*dst = nil
		return true
	}
	if !r.consume('[') {
		return false
	}
	list := []string{}
	if r.consume(']') {
		*dst = list
		return true
	}
	for {
		r.ws()
		var s string
		if !r.plainString(&s) {
			return false
		}
		list = append(list, s)
		if r.consume(']') {
			*dst = list
			return true
		}
		if !r.consume(',') {
			return false
		}
	}
}

func (r *snapshotReader) boolean(dst *bool) bool {
	switch {
	case r.literal("true"):
		*dst = true
	case r.literal("false"):
		*dst = false
	default:
		return false
	}
	return true
}

// integer reads an integer without fraction or exponent (encoding/json
// rejects those for an int field).
func (r *snapshotReader) integer(dst *int) bool {
	start := r.i
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	digits := r.i
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		r.i++
	}
	if r.i == digits || (r.b[digits] == '0' && r.i-digits > 1) {
		return false
	}
	if r.i < len(r.b) {
		switch r.b[r.i] {
		case '.', 'e', 'E':
			return false
		}
	}
	n, err := strconv.ParseInt(string(r.b[start:r.i]), 10, 64)
	if err != nil {
		return false
	}
	*dst = int(n)
	return true
}

// duration reads a duration as connecthub.Duration's MarshalJSON writes it:
// a plain string, parsed as its UnmarshalJSON parses strings.
func (r *snapshotReader) duration(dst *connecthub.Duration) bool {
	s, ok := r.plainBytes()
	if !ok {
		return false
	}
	d, err := connecthub.ParseDuration(string(s))
	if err != nil {
		return false
	}
	*dst = d
	return true
}

func (r *snapshotReader) literal(lit string) bool {
	if len(r.b)-r.i < len(lit) || string(r.b[r.i:r.i+len(lit)]) != lit {
		return false
	}
	r.i += len(lit)
	return true
}

// skipValue moves past one JSON value, checking its syntax as strictly as
// encoding/json does.
func (r *snapshotReader) skipValue(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	r.ws()
	if r.i >= len(r.b) {
		return false
	}
	switch c := r.b[r.i]; {
	case c == '{':
		r.i++
		if r.consume('}') {
			return true
		}
		for {
			r.ws()
			if !r.skipString() || !r.consume(':') || !r.skipValue(depth+1) {
				return false
			}
			if r.consume('}') {
				return true
			}
			if !r.consume(',') {
				return false
			}
		}
	case c == '[':
		r.i++
		if r.consume(']') {
			return true
		}
		for {
			if !r.skipValue(depth + 1) {
				return false
			}
			if r.consume(']') {
				return true
			}
			if !r.consume(',') {
				return false
			}
		}
	case c == '"':
		return r.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return r.skipNumber()
	default:
		return r.literal("true") || r.literal("false") || r.literal("null")
	}
}

// skipString moves past a string, escapes included. Like encoding/json, it
// accepts any byte but control characters, invalid UTF-8 included.
func (r *snapshotReader) skipString() bool {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return false
	}
	for i := r.i + 1; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			r.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(r.b) {
				return false
			}
			switch r.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(r.b) {
					return false
				}
				for _, h := range r.b[i+1 : i+5] {
					if !isHex(h) {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// skipNumber moves past a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *snapshotReader) skipNumber() bool {
	digits := func() bool {
		start := r.i
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
		}
		return r.i > start
	}
	if r.b[r.i] == '-' {
		r.i++
	}
	if r.i < len(r.b) && r.b[r.i] == '0' {
		r.i++
	} else if !digits() {
		return false
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if !digits() {
			return false
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if !digits() {
			return false
		}
	}
	return true
}
