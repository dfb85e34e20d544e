package runlog

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMessageRunes caps a run's message, in characters (runes), including the
// truncation marker.
const MaxMessageRunes = 50000

// maxWarningRunes caps one warning in the message summary: the summary points
// at problems, the run log holds the details.
const maxWarningRunes = 1000

// messageSuffix ends a message that was cut.
const messageSuffix = "\n" + TruncatedMarker

// Message builds the run's message: the result message, then, if there were
// warnings, a blank line, "Warnings (N):" and one warning per line. The
// result is at most MaxMessageRunes characters and ends with "[TRUNCATED]"
// when it was cut. Invalid UTF-8 and NUL bytes, which PostgreSQL text
// columns reject, are replaced by U+FFFD.
func Message(result string, warnings []string) string {
	return buildMessage(result, warnings, len(warnings))
}

// buildMessage is Message with the total number of warnings, which is larger
// than len(warnings) when a Capture stopped keeping them.
func buildMessage(result string, warnings []string, total int) string {
	total = max(total, len(warnings))
	if total == 0 {
		return truncateMessage(sanitizeString(result))
	}
	var b strings.Builder
	result = trimEOL(result)
	b.WriteString(result)
	if result != "" {
		b.WriteString("\n\n")
	}
	b.WriteString("Warnings (")
	b.WriteString(strconv.Itoa(total))
	b.WriteString("):")
	for _, w := range warnings {
		b.WriteByte('\n')
		b.WriteString(w)
		if b.Len() > 4*MaxMessageRunes {
			break // enough to fill the message; the rest would be cut anyway
		}
	}
	if omitted := total - len(warnings); omitted > 0 {
		b.WriteString("\n… ")
		b.WriteString(strconv.Itoa(omitted))
		b.WriteString(" more, see the run log")
	}
	return truncateMessage(sanitizeString(b.String()))
}

// truncateMessage cuts s to MaxMessageRunes runes, the last of which are the
// truncation marker.
func truncateMessage(s string) string {
	if len(s) <= MaxMessageRunes { // a rune is at least one byte
		return s
	}
	keep := MaxMessageRunes - utf8.RuneCountInString(messageSuffix)
	cut, n := 0, 0
	for i := range s {
		if n == keep {
			cut = i
		}
		if n == MaxMessageRunes {
			return s[:cut] + messageSuffix
		}
		n++
	}
	return s
}

// cutRunes shortens s to at most n runes, ending it with an ellipsis when cut.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	count := 0
	for i := range s {
		if count == n-1 {
			if utf8.RuneCountInString(s[i:]) > 1 {
				return s[:i] + "…"
			}
			return s
		}
		count++
	}
	return s
}

// trimEOL removes trailing line breaks, which would otherwise produce empty
// lines in the run log.
func trimEOL(s string) string { return strings.TrimRight(s, "\r\n") }

// sanitize makes b[start:] valid UTF-8 without NUL bytes, replacing each
// offending byte with U+FFFD, because the log is stored in text columns.
func sanitize(b []byte, start int) []byte {
	tail := b[start:]
	if utf8.Valid(tail) && bytes.IndexByte(tail, 0) < 0 {
		return b
	}
	clean := make([]byte, 0, len(tail)+16)
	for i := 0; i < len(tail); {
		r, size := utf8.DecodeRune(tail[i:])
		if r == 0 || (r == utf8.RuneError && size == 1) {
			clean = utf8.AppendRune(clean, utf8.RuneError)
		} else {
			clean = append(clean, tail[i:i+size]...)
		}
		i += size
	}
	return append(b[:start], clean...)
}

// sanitizeString is sanitize for a whole string.
func sanitizeString(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return string(sanitize([]byte(s), 0))
}

// withIncomplete adds the warning that the run log is incomplete to a run's
// result message, where an operator who never opens the log still sees it.
func withIncomplete(msg, reason string) string {
	note := "log incomplete: " + reason
	if msg = trimEOL(msg); msg == "" {
		return note
	}
	return msg + "; " + note
}
