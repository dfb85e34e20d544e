package runlog

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Logger returns a logger whose records become lines of the run log:
//
//	2026-11-24T06:43:21.123Z INFO message key=value group.key="quoted value"
//
// The time is UTC with millisecond precision. The message is written as is
// (trailing line breaks removed); attribute values are written bare, or
// quoted Go-style when they are empty or contain spaces, '=', quotes or
// control characters. Groups prefix their keys ("group.key"). Every line is
// masked before it is buffered. Records below Config.Level, and all but
// warnings once the log was cut, are rejected by Enabled before they are
// formatted.
func (c *Capture) Logger() *slog.Logger {
	return slog.New(&handler{c: c})
}

// handler is the slog.Handler behind Capture.Logger.
type handler struct {
	c      *Capture
	attrs  []byte // attributes from WithAttrs, formatted, each with a leading space
	prefix string // key prefix of the open groups, such as "a.b."
}

func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.c.cfg.Level.Level() && h.c.accepting(level)
}

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	bp := getBuf()
	defer putBuf(bp)
	b := append(*bp, trimEOL(r.Message)...)
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		b = h.appendAttr(b, h.prefix, a)
		return true
	})
	body := b
	if len(r.Message) == 0 && len(body) > 0 && body[0] == ' ' {
		body = body[1:] // no double blank between the level and the first attribute
	}
	h.c.record(h.c.now(r.Time), r.Level, body)
	*bp = b[:0]
	return nil
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	b := slices.Clip(h.attrs)
	for _, a := range attrs {
		b = h.appendAttr(b, h.prefix, a)
	}
	return &handler{c: h.c, attrs: b, prefix: h.prefix}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{c: h.c, attrs: h.attrs, prefix: h.prefix + name + "."}
}

// appendAttr formats one attribute, following the slog.Handler rules: values
// are resolved, empty attributes and empty groups are skipped, and the
// attributes of a group without a key are inlined.
func (h *handler) appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return b
		}
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range attrs {
			b = h.appendAttr(b, prefix, ga)
		}
		return b
	}
	b = append(b, ' ')
	b = h.appendString(b, prefix+a.Key)
	b = append(b, '=')
	return h.appendValue(b, a.Value)
}

func (h *handler) appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return h.appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return append(b, v.Duration().String()...)
	case slog.KindTime:
		return v.Time().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	default:
		return h.appendString(b, anyString(v.Any()))
	}
}

// anyString formats an arbitrary value like slog's text handler does. A
// panicking String, Error or MarshalText method must not take the handler's
// run down with it, so the panic is reported in the line instead.
func anyString(x any) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("!PANIC: %v", r)
		}
	}()
	switch x := x.(type) {
	case nil:
		return "<nil>"
	case error:
		return x.Error()
	case encoding.TextMarshaler:
		text, err := x.MarshalText()
		if err != nil {
			return "!ERROR: " + err.Error()
		}
		return string(text)
	case []byte:
		return string(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	default:
		return fmt.Sprintf("%+v", x)
	}
}

// appendString writes s bare when that is unambiguous, else quoted. A value
// is masked before it is quoted, because quoting changes how a secret is
// spelled (a quote inside it gains a backslash) and the line-level mask
// would then miss it.
func (h *handler) appendString(b []byte, s string) []byte {
	s = h.c.masker.Mask(s)
	if !needsQuoting(s) {
		return append(b, s...)
	}
	return strconv.AppendQuote(b, s)
}

// needsQuoting reports whether a bare s would be ambiguous in a logfmt line.
func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}
