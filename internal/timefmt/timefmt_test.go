package timefmt

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestHuman(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 19, 21, 8, 500, time.UTC)
	for _, tc := range []struct {
		zone string
		want string
	}{
		{"Asia/Shanghai", "2026-12-07 03:21:08 +08:00"},
		{"Europe/London", "2026-12-06 19:21:08 +00:00"},
		{"America/Chicago", "2026-12-06 13:21:08 -06:00"},
		{"Asia/Kolkata", "2026-12-07 00:51:08 +05:30"},
	} {
		if got := Human(at, mustLoc(t, tc.zone)); got != tc.want {
			t.Errorf("Human in %s = %q, want %q", tc.zone, got, tc.want)
		}
	}
	if got := Human(at, nil); got != "2026-12-06 19:21:08 +00:00" {
		t.Errorf("nil location = %q, want UTC", got)
	}
	if Human(time.Time{}, time.UTC) != "" || Ptr(nil, time.UTC) != "" {
		t.Error("zero and nil times must be empty")
	}
	if got := RFC3339(at, mustLoc(t, "Europe/London")); got != "2026-12-06T19:21:08+00:00" {
		t.Errorf("RFC3339 = %q, want an explicit +00:00", got)
	}
}

func TestLocation(t *testing.T) {
	t.Parallel()
	sh := mustLoc(t, "Asia/Shanghai")
	for _, tc := range []struct {
		name string
		want string
	}{
		{"Europe/London", "Europe/London"},
		{"", "Asia/Shanghai"},
		{"Mars/Olympus", "Asia/Shanghai"},
		{"Local", "Asia/Shanghai"},
	} {
		if got := Location(tc.name, sh).String(); got != tc.want {
			t.Errorf("Location(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
	if Location("", nil) != time.UTC {
		t.Error("no name and no fallback must be UTC")
	}
}

func TestLogLines(t *testing.T) {
	t.Parallel()
	sh := mustLoc(t, "Asia/Shanghai")
	for _, tc := range []struct {
		name, in, want string
	}{
		{"go worker stamp", "2026-12-06T19:21:08.123Z INFO start\n", "2026-12-07 03:21:08.123 +08:00 INFO start\n"},
		{"python worker stamp", "2026-12-06T19:21:08Z INFO x", "2026-12-07 03:21:08.000 +08:00 INFO x"},
		{"offset stamp", "2026-12-07T03:21:08+08:00 WARN y\n", "2026-12-07 03:21:08.000 +08:00 WARN y\n"},
		{"no stamp", "plain output line\n", "plain output line\n"},
		{"almost a stamp", "2026-12-06T99:21:08Z nope\n", "2026-12-06T99:21:08Z nope\n"},
		{"stamp alone", "2026-12-06T19:21:08.123Z\n", "2026-12-06T19:21:08.123Z\n"},
		{"empty", "", ""},
		{"several", "2026-12-06T19:21:08.123Z INFO a\n[TRUNCATED]\n2026-12-06T19:21:09.000Z ERROR b\n",
			"2026-12-07 03:21:08.123 +08:00 INFO a\n[TRUNCATED]\n2026-12-07 03:21:09.000 +08:00 ERROR b\n"},
	} {
		if got := LogLines(tc.in, sh); got != tc.want {
			t.Errorf("%s: LogLines = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLogWriterJoinsPieces(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	w := LogWriter(&out, mustLoc(t, "Europe/London"))
	for _, piece := range []string{"2026-07-01T10:00:00.0", "00Z INFO summer\n2026-12-01T10:", "00:00.000Z INFO winter\nno newline"} {
		if _, err := w.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "2026-07-01 11:00:00.000 +01:00 INFO summer\n2026-12-01 10:00:00.000 +00:00 INFO winter\nno newline"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
