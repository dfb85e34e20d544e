package runlog

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestWriterSplitsLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		want   []string // line bodies, without time stamp
	}{
		{"one line", []string{"hello\n"}, []string{"INFO hello"}},
		{"several lines in one write", []string{"a\nb\nc\n"}, []string{"INFO a", "INFO b", "INFO c"}},
		{"line across writes", []string{"hel", "lo wor", "ld\n"}, []string{"INFO hello world"}},
		{"CRLF", []string{"a\r\nb\r", "\n"}, []string{"INFO a", "INFO b"}},
		{"lone CR kept inside a line", []string{"10%\r20%\n"}, []string{"INFO 10%\r20%"}},
		{"empty lines kept", []string{"a\n\nb\n"}, []string{"INFO a", "INFO", "INFO b"}},
		{"unterminated last line kept at Close", []string{"a\nb"}, []string{"INFO a", "INFO b"}},
		{"empty writes", []string{"", "a", "", "\n", ""}, []string{"INFO a"}},
		{"rune split across writes", []string{"caf\xc3", "\xa9\n"}, []string{"INFO café"}},
		{"invalid UTF-8 replaced", []string{"bad \xff\xfe byte\n"}, []string{"INFO bad \uFFFD\uFFFD byte"}},
		{"secret split across writes", []string{"token=hun", "ter", "2 ok\n"}, []string{"INFO token=****** ok"}},
		{"secret split right at the newline", []string{"x hunter", "2\ny\n"}, []string{"INFO x ******", "INFO y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, sink := newCapture(t, Config{Secrets: []string{"hunter2"}, FlushInterval: time.Hour})
			w := c.Writer(slog.LevelInfo)
			for _, s := range tt.writes {
				if n, err := io.WriteString(w, s); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			closeCapture(t, c)
			if got := bodies(sink.stored()); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWriterSecretSplitAtEveryPosition writes a line containing a secret in
// two Writes, split at every possible byte, including inside the secret's
// JSON-escaped form.
func TestWriterSecretSplitAtEveryPosition(t *testing.T) {
	t.Parallel()
	secret := `s3cr"t/é`
	line := `{"password":"s3cr\"t/é"} and s3cr"t/é and s3cr%22t%2F%C3%A9` + "\n"
	want := `INFO {"password":"******"} and ****** and ******`
	for i := 0; i <= len(line); i++ {
		c, sink := newCapture(t, Config{Secrets: []string{secret}, FlushInterval: time.Hour})
		w := c.Writer(slog.LevelInfo)
		io.WriteString(w, line[:i])
		io.WriteString(w, line[i:])
		closeCapture(t, c)
		if got := bodies(sink.stored()); len(got) != 1 || got[0] != want {
			t.Fatalf("split at %d: lines = %q, want [%q]", i, got, want)
		}
	}
}

// TestWriterLongLines checks that a line without newline is cut into pieces
// of bounded size, never inside a secret or a rune, and that the pieces
// together are the masked line.
func TestWriterLongLines(t *testing.T) {
	t.Parallel()
	const secret = "SECRET-VALUE-0123456789"
	tests := []struct {
		name      string
		secrets   []string
		line      string
		chunkSize int // bytes per Write
	}{
		{"ASCII, no secrets, one write", nil, strings.Repeat("a", 3*maxLineBytes+17), 1 << 30},
		{"ASCII, no secrets, small writes", nil, strings.Repeat("b", 2*maxLineBytes+5), 1000},
		{"multi-byte runes straddle every cut", nil, strings.Repeat("日本語🙂", maxLineBytes/3), 4093},
		{"secret straddling the first cut", []string{secret}, strings.Repeat("x", maxLineBytes-10) + secret + strings.Repeat("y", 100), 1 << 30},
		{"secret straddling the first cut, byte by byte", []string{secret}, strings.Repeat("x", maxLineBytes-10) + secret + strings.Repeat("y", 100), 1},
		{"secret ending at the cut", []string{secret}, strings.Repeat("x", maxLineBytes-len(secret)) + secret + "tail", 7},
		{"secrets everywhere", []string{secret}, strings.Repeat(secret+"-", 3*maxLineBytes/len(secret)), 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, sink := newCapture(t, Config{Secrets: tt.secrets, MaxBytes: 1 << 20, FlushInterval: time.Hour})
			w := c.Writer(slog.LevelInfo)
			for rest := tt.line; rest != ""; {
				n := min(tt.chunkSize, len(rest))
				io.WriteString(w, rest[:n])
				rest = rest[n:]
			}
			io.WriteString(w, "\nnext\n")
			closeCapture(t, c)

			lines := bodies(sink.stored())
			if len(lines) < 2 || lines[len(lines)-1] != "INFO next" {
				t.Fatalf("got %d lines, last %q", len(lines), lines[len(lines)-1])
			}
			var joined strings.Builder
			for _, l := range lines[:len(lines)-1] {
				body := strings.TrimPrefix(l, "INFO ")
				if len(body) > maxLineBytes+len(secret) {
					t.Errorf("piece of %d bytes, want at most about %d", len(body), maxLineBytes)
				}
				if strings.ContainsRune(body, '\uFFFD') {
					t.Errorf("a rune was split at a cut")
				}
				joined.WriteString(body)
			}
			if want := NewMasker(tt.secrets).Mask(tt.line); joined.String() != want {
				t.Errorf("pieces do not add up to the masked line (got %d bytes, want %d)", joined.Len(), len(want))
			}
			if tt.secrets != nil && strings.Contains(sink.stored(), "SECRET") {
				t.Error("part of a secret was stored")
			}
		})
	}
}

func TestStderrWarningPromotion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line     string
		wantLine string
		warning  bool
	}{
		{"WARNING: disk almost full", "WARN WARNING: disk almost full", true},
		{"WARNING", "WARN WARNING", true},
		{"  \tWARNING indented", "WARN   \tWARNING indented", true},
		{"WARNINGS are also warnings", "WARN WARNINGS are also warnings", true},
		{"warning: lower case", "INFO warning: lower case", false},
		{"WARN: not the word", "INFO WARN: not the word", false},
		{"see WARNING later", "INFO see WARNING later", false},
		{"ERROR: failed", "INFO ERROR: failed", false},
		{"WARNING: token hunter2 leaked", "WARN WARNING: token ****** leaked", true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			c, sink := newCapture(t, Config{Secrets: []string{"hunter2"}, FlushInterval: time.Hour})
			io.WriteString(c.StderrWriter(), tt.line+"\r\n")
			io.WriteString(c.Writer(slog.LevelInfo), tt.line+"\n") // stdout never promotes
			closeCapture(t, c)
			got := bodies(sink.stored())
			want := []string{tt.wantLine, "INFO " + tt.line}
			if tt.line == "WARNING: token hunter2 leaked" {
				want[1] = "INFO WARNING: token ****** leaked"
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("lines = %q, want %q", got, want)
			}
			warnings := c.Warnings()
			if tt.warning != (len(warnings) == 1) {
				t.Fatalf("Warnings() = %q, want a warning: %v", warnings, tt.warning)
			}
			if tt.warning && warnings[0] != strings.TrimPrefix(tt.wantLine, "WARN ") {
				t.Errorf("warning = %q, want %q", warnings[0], strings.TrimPrefix(tt.wantLine, "WARN "))
			}
		})
	}
}

func TestWriterCloseRecordsPartialLine(t *testing.T) {
	t.Parallel()
	c, sink := newCapture(t, Config{FlushInterval: time.Hour})
	w := c.Writer(slog.LevelError)
	io.WriteString(w, "partial")
	if err := w.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "more\n")
	closeCapture(t, c)
	if got := bodies(sink.stored()); strings.Join(got, "|") != "ERROR partial|ERROR more" {
		t.Errorf("lines = %q", got)
	}
}

// TestWriterAfterTruncation checks that a full log makes stdout writes free
// while stderr warnings are still collected.
func TestWriterAfterTruncation(t *testing.T) {
	t.Parallel()
	c, sink := newCapture(t, Config{MaxBytes: MinMaxBytes, FlushInterval: time.Hour})
	stdout, stderr := c.Writer(slog.LevelInfo), c.StderrWriter()
	io.WriteString(stdout, strings.Repeat("x", 100)+"\n")
	if !c.Truncated() {
		t.Fatal("not truncated")
	}
	io.WriteString(stdout, "dropped\n")
	io.WriteString(stderr, "noise\nWARNING: still counted\n")
	closeCapture(t, c)
	if strings.Contains(sink.stored(), "dropped") || strings.Contains(sink.stored(), "counted") {
		t.Errorf("log grew after the cut: %q", sink.stored())
	}
	if got := c.Warnings(); len(got) != 1 || got[0] != "WARNING: still counted" {
		t.Errorf("Warnings() = %q", got)
	}
}
