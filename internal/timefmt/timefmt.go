// Package timefmt is the one way ConnectHub shows a time to a person: in a
// timezone (a job's, or the server's default) with its numeric UTC offset,
// "2026-12-07 03:21:08 +08:00". Zone abbreviations are never shown because
// they are ambiguous (CST is China, US Central and Cuba). Machines keep
// getting RFC 3339 in UTC or with an offset; this package is for the admin
// UI, the CLI's tables and the run log lines either of them shows.
package timefmt

import (
	"bytes"
	"io"
	"strings"
	"time"
)

// Layout is the human layout: local wall time, then the numeric offset.
const Layout = "2006-01-02 15:04:05 -07:00"

// LogLayout is Layout with milliseconds, for run log lines, whose order
// within a second matters when reading them.
const LogLayout = "2006-01-02 15:04:05.000 -07:00"

// RFC3339Offset is RFC 3339 with the numeric offset always written, so that
// a time in a zone at UTC+0 (London in winter) reads "+00:00" rather than
// "Z", which looks as if the zone had been ignored.
const RFC3339Offset = "2006-01-02T15:04:05-07:00"

// Human formats t in loc (UTC when loc is nil) with Layout. The zero time
// is "" so that callers choose their own placeholder.
func Human(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(orUTC(loc)).Format(Layout)
}

// Ptr is Human for an optional time: nil is "".
func Ptr(t *time.Time, loc *time.Location) string {
	if t == nil {
		return ""
	}
	return Human(*t, loc)
}

// RFC3339 formats t in loc as RFC3339Offset.
func RFC3339(t time.Time, loc *time.Location) string {
	return t.In(orUTC(loc)).Format(RFC3339Offset)
}

// Location loads an IANA timezone, or returns fallback when name is empty or
// unknown (a job always has a valid one; a deleted job's runs fall back).
func Location(name string, fallback *time.Location) *time.Location {
	if name != "" && !strings.EqualFold(name, "local") {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	return orUTC(fallback)
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// LogLines rewrites the time stamp at the start of every line of a run log
// (stored in UTC as RFC 3339, "2026-12-06T19:21:08.123Z INFO …") into loc
// with LogLayout. Lines without a leading stamp are left as they are, so
// output a handler printed itself is never altered.
func LogLines(text string, loc *time.Location) string {
	if text == "" {
		return text
	}
	var b strings.Builder
	b.Grow(len(text) + len(text)/8)
	for len(text) > 0 {
		i := strings.IndexByte(text, '\n')
		line := text
		if i >= 0 {
			line, text = text[:i+1], text[i+1:]
		} else {
			text = ""
		}
		b.WriteString(logLine(line, loc))
	}
	return b.String()
}

// logLine rewrites one line's leading stamp, if it has one.
func logLine(line string, loc *time.Location) string {
	end := strings.IndexByte(line, ' ')
	// The shortest stamp is "2006-01-02T15:04:05Z" (20 bytes).
	if end < 20 || line[4] != '-' || line[10] != 'T' {
		return line
	}
	t, err := time.Parse(time.RFC3339Nano, line[:end])
	if err != nil {
		return line
	}
	return t.In(orUTC(loc)).Format(LogLayout) + line[end:]
}

// LogWriter returns a writer that passes whole lines to w with their stamps
// rewritten by LogLines, for a log that arrives in pieces (a followed run).
// Close writes a last line that had no newline.
func LogWriter(w io.Writer, loc *time.Location) io.WriteCloser {
	return &logWriter{w: w, loc: loc}
}

type logWriter struct {
	w       io.Writer
	loc     *time.Location
	pending []byte
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.pending = append(l.pending, p...)
	i := bytes.LastIndexByte(l.pending, '\n')
	if i < 0 {
		return len(p), nil
	}
	out := LogLines(string(l.pending[:i+1]), l.loc)
	l.pending = append(l.pending[:0], l.pending[i+1:]...)
	if _, err := io.WriteString(l.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *logWriter) Close() error {
	if len(l.pending) == 0 {
		return nil
	}
	out := LogLines(string(l.pending), l.loc)
	l.pending = l.pending[:0]
	_, err := io.WriteString(l.w, out)
	return err
}
