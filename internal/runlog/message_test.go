package runlog

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestMessage(t *testing.T) {
	t.Parallel()
	runes := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := []struct {
		name     string
		result   string
		warnings []string
		want     string
	}{
		{"result only", "synced 42 members", nil, "synced 42 members"},
		{"empty", "", nil, ""},
		{"result and warnings", "synced 42 members", []string{"slow response", "WARNING: retrying"},
			"synced 42 members\n\nWarnings (2):\nslow response\nWARNING: retrying"},
		{"trailing newline of result before warnings", "done\n", []string{"w"}, "done\n\nWarnings (1):\nw"},
		{"warnings only", "", []string{"w1"}, "Warnings (1):\nw1"},
		{"NUL and invalid UTF-8 replaced", "a\x00b\xff", nil, "a\uFFFDb\uFFFD"},
		{"exactly the limit", runes("é", MaxMessageRunes), nil, runes("é", MaxMessageRunes)},
		{"one rune over the limit", runes("é", MaxMessageRunes+1), nil, runes("é", MaxMessageRunes-12) + "\n[TRUNCATED]"},
		{"4-byte runes over the limit", runes("🙂", MaxMessageRunes+5), nil, runes("🙂", MaxMessageRunes-12) + "\n[TRUNCATED]"},
		{"ASCII over the limit", runes("a", 3*MaxMessageRunes), nil, runes("a", MaxMessageRunes-12) + "\n[TRUNCATED]"},
		{"warnings cut", "ok", []string{runes("w", MaxMessageRunes)},
			"ok\n\nWarnings (1):\n" + runes("w", MaxMessageRunes-len("ok\n\nWarnings (1):\n")-12) + "\n[TRUNCATED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Message(tt.result, tt.warnings)
			if got != tt.want {
				t.Errorf("Message() = %q…, want %q… (len %d, want %d)", clip(got), clip(tt.want), len(got), len(tt.want))
			}
			if n := utf8.RuneCountInString(got); n > MaxMessageRunes {
				t.Errorf("message has %d runes, more than %d", n, MaxMessageRunes)
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:30] + "…" + s[len(s)-30:]
	}
	return s
}

func TestCaptureMessage(t *testing.T) {
	t.Parallel()
	c, _ := newCapture(t, Config{Secrets: []string{"hunter2"}, FlushInterval: time.Hour})
	l := c.Logger()
	l.Info("not a warning")
	l.Warn("slow", "ms", 1500)
	l.Error("not a warning either")
	c.Logf(slog.LevelWarn+1, "custom level between WARN and ERROR")
	l.Warn("password hunter2 rejected")
	closeCapture(t, c)
	want := "login as admin/******\n\nWarnings (3):\nslow ms=1500\ncustom level between WARN and ERROR\npassword ****** rejected"
	if got := c.Message("login as admin/hunter2"); got != want {
		t.Errorf("Message() =\n%q\nwant\n%q", got, want)
	}
	if got := Message("r", c.Warnings()); !strings.HasPrefix(got, "r\n\nWarnings (3):\nslow") {
		t.Errorf("package Message() = %q", got)
	}
}

// TestWarningsAreCapped checks that a run with endless warnings keeps only
// what a message can show, and that the message still counts them all.
func TestWarningsAreCapped(t *testing.T) {
	t.Parallel()
	c, _ := newCapture(t, Config{FlushInterval: time.Hour})
	const n = 20000
	for i := range n {
		c.Logf(slog.LevelWarn, "warning number %d", i)
	}
	c.Logf(slog.LevelWarn, "%s", strings.Repeat("long", 1000))
	closeCapture(t, c)
	kept := c.Warnings()
	if len(kept) >= n {
		t.Fatalf("kept all %d warnings", len(kept))
	}
	total := 0
	for _, w := range kept {
		total += utf8.RuneCountInString(w) + 1
	}
	if total > MaxMessageRunes+maxWarningRunes+1 {
		t.Errorf("kept %d runes of warnings, want about %d", total, MaxMessageRunes)
	}
	msg := c.Message("done")
	if !strings.HasPrefix(msg, fmt.Sprintf("done\n\nWarnings (%d):\nwarning number 0\n", n+1)) {
		t.Errorf("message starts %q", clip(msg))
	}
	if !strings.HasSuffix(msg, "\n[TRUNCATED]") || utf8.RuneCountInString(msg) != MaxMessageRunes {
		t.Errorf("message of %d runes ends %q", utf8.RuneCountInString(msg), clip(msg))
	}
}

func TestWarningEntryIsShortened(t *testing.T) {
	t.Parallel()
	c, _ := newCapture(t, Config{FlushInterval: time.Hour})
	c.Logf(slog.LevelWarn, "%s", strings.Repeat("é", 5000))
	closeCapture(t, c)
	w := c.Warnings()
	if len(w) != 1 || utf8.RuneCountInString(w[0]) != maxWarningRunes || !strings.HasSuffix(w[0], "é…") {
		t.Errorf("warning of %d runes: %q", utf8.RuneCountInString(w[0]), clip(w[0]))
	}
}

func TestCutRunes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"日本語", 3, "日本語"},
		{"日本語x", 3, "日本…"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		if got := cutRunes(tt.in, tt.n); got != tt.want {
			t.Errorf("cutRunes(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
