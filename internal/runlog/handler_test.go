package runlog

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

type panicError struct{}

func (panicError) Error() string { panic("boom") }

type textValue struct{}

func (textValue) MarshalText() ([]byte, error) { return []byte("as text"), nil }

type lazySecret struct{ v string }

func (l lazySecret) LogValue() slog.Value { return slog.StringValue(l.v) }

func TestLoggerLineFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string // the line without time stamp and newline
	}{
		{"message only", func(l *slog.Logger) { l.Info("hello") }, "INFO hello"},
		{"levels", func(l *slog.Logger) { l.Error("bad") }, "ERROR bad"},
		{"custom level", func(l *slog.Logger) { l.Log(context.Background(), slog.LevelInfo+2, "x") }, "INFO+2 x"},
		{"scalar attrs", func(l *slog.Logger) {
			l.Info("m", "s", "v", "i", -3, "u", uint64(7), "f", 1.5, "b", true, "d", 1500*time.Millisecond)
		}, "INFO m s=v i=-3 u=7 f=1.5 b=true d=1.5s"},
		{"time attr", func(l *slog.Logger) {
			l.Info("m", "at", time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC))
		}, "INFO m at=2026-01-02T03:04:05.006Z"},
		{"quoting", func(l *slog.Logger) {
			l.Info("m", "empty", "", "space", "a b", "eq", "a=b", "quote", `a"b`, "nl", "a\nb", "uni", "héllo")
		}, `INFO m empty="" space="a b" eq="a=b" quote="a\"b" nl="a\nb" uni=héllo`},
		{"any values", func(l *slog.Logger) {
			l.Info("m", "err", errors.New("no route"), "ip", net.IPv4(10, 0, 0, 1), "txt", textValue{}, "bytes", []byte("raw"), "nil", nil, "list", []int{1, 2})
		}, `INFO m err="no route" ip=10.0.0.1 txt="as text" bytes=raw nil=<nil> list="[1 2]"`},
		{"panicking Error method", func(l *slog.Logger) { l.Info("m", "p", panicError{}) }, `INFO m p="!PANIC: boom"`},
		{"groups", func(l *slog.Logger) {
			l.Info("m", slog.Group("req", "method", "GET", slog.Group("h", "k", "v")), slog.Group("empty"))
		}, "INFO m req.method=GET req.h.k=v"},
		{"WithAttrs and WithGroup", func(l *slog.Logger) {
			l.With("job", "sync").WithGroup("http").With("host", "x").Info("m", "status", 200)
		}, "INFO m job=sync http.host=x http.status=200"},
		{"empty message", func(l *slog.Logger) { l.Info("", "k", "v") }, "INFO k=v"},
		{"empty message no attrs", func(l *slog.Logger) { l.Info("") }, "INFO"},
		{"trailing newline trimmed", func(l *slog.Logger) { l.Info("done\r\n\n") }, "INFO done"},
		{"invalid UTF-8 and NUL replaced", func(l *slog.Logger) { l.Info("a\xffb\x00c") }, "INFO a\uFFFDb\uFFFDc"},
		{"secret in message and attrs", func(l *slog.Logger) {
			l.Info("token hunter2", "pw", "hunter2", "url", "https://x/?t=hunter2")
		}, `INFO token ****** pw=****** url="https://x/?t=******"`},
		{"secret that needs quoting", func(l *slog.Logger) { l.Info("m", "pw", `pa"ss word`) }, `INFO m pw=******`},
		{"secret through LogValuer", func(l *slog.Logger) { l.Info("m", "pw", lazySecret{"hunter2"}) }, "INFO m pw=******"},
		{"secret in WithAttrs", func(l *slog.Logger) { l.With("pw", "hunter2").Info("m") }, "INFO m pw=******"},
		{"secret as key", func(l *slog.Logger) { l.Info("m", "hunter2", 1) }, "INFO m ******=1"},
		{"debug dropped by default", func(l *slog.Logger) { l.Debug("hidden") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, sink := newCapture(t, Config{Secrets: []string{"hunter2", `pa"ss word`}})
			tt.log(c.Logger())
			closeCapture(t, c)
			got := sink.stored()
			if tt.want == "" {
				if got != "" {
					t.Fatalf("log = %q, want nothing", got)
				}
				return
			}
			if want := "2026-11-24T06:43:21.123Z " + tt.want + "\n"; got != want {
				t.Errorf("log =\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestLoggerUsesRecordTimeInUTC(t *testing.T) {
	t.Parallel()
	var stored strings.Builder
	c := New(Config{RunID: "r", Sink: SinkFunc(func(_ context.Context, _, chunk string) error {
		stored.WriteString(chunk)
		return nil
	})})
	rec := slog.NewRecord(time.Date(2026, 3, 4, 5, 6, 7, 890_123_000, time.FixedZone("CET", 3600)), slog.LevelWarn, "w", 0)
	if err := c.Logger().Handler().Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	closeCapture(t, c)
	if want := "2026-03-04T04:06:07.890Z WARN w\n"; stored.String() != want {
		t.Errorf("log = %q, want %q", stored.String(), want)
	}
}

func TestLoggerLevelConfig(t *testing.T) {
	t.Parallel()
	c, sink := newCapture(t, Config{Level: slog.LevelDebug})
	c.Logger().Debug("d")
	c.Logf(slog.LevelDebug, "n=%d", 1)
	fmt := c.Writer(slog.LevelDebug)
	if _, err := fmt.Write([]byte("w\n")); err != nil {
		t.Fatal(err)
	}
	closeCapture(t, c)
	want := []string{"DEBUG d", "DEBUG n=1", "DEBUG w"}
	if got := bodies(sink.stored()); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", got, want)
	}

	c2, sink2 := newCapture(t, Config{Level: slog.LevelError})
	c2.Logger().Warn("w")
	c2.Logf(slog.LevelInfo, "i")
	if _, err := c2.StderrWriter().Write([]byte("WARNING x\n")); err != nil {
		t.Fatal(err)
	}
	c2.Logger().Error("e")
	closeCapture(t, c2)
	if got := bodies(sink2.stored()); strings.Join(got, "|") != "ERROR e" {
		t.Errorf("with Level ERROR lines = %q, want only the error", got)
	}
}

// TestSlogHandlerContract runs the standard library's conformance tests for
// slog.Handler implementations against the run log format.
func TestSlogHandlerContract(t *testing.T) {
	t.Parallel()
	var sink *testSink
	var c *Capture
	newHandler := func(t *testing.T) slog.Handler {
		c, sink = newCapture(t, Config{Now: nil})
		return c.Logger().Handler()
	}
	result := func(t *testing.T) map[string]any {
		if strings.HasSuffix(t.Name(), "/zero-time") {
			t.Skip("every run log line carries a time stamp; a zero record time is replaced by the current time")
		}
		closeCapture(t, c)
		line := strings.TrimSuffix(sink.stored(), "\n")
		if strings.Contains(line, "\n") {
			t.Fatalf("want one line, got %q", line)
		}
		return parseLine(t, line)
	}
	slogtest.Run(t, newHandler, result)
}

// parseLine parses "TIME LEVEL message k=v g.k=v" into the map slogtest
// expects, with groups as nested maps. Messages in slogtest have no spaces.
func parseLine(t *testing.T, line string) map[string]any {
	t.Helper()
	m := map[string]any{}
	ts, rest, _ := strings.Cut(line, " ")
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", ts); err != nil {
		t.Fatalf("bad time stamp in %q: %v", line, err)
	}
	m[slog.TimeKey] = ts
	level, rest, _ := strings.Cut(rest, " ")
	m[slog.LevelKey] = level
	for _, field := range splitFields(t, rest) {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			m[slog.MessageKey] = field
			continue
		}
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				t.Fatalf("bad quoted value in %q: %v", line, err)
			}
			value = uq
		}
		dst := m
		parts := strings.Split(key, ".")
		for _, g := range parts[:len(parts)-1] {
			sub, ok := dst[g].(map[string]any)
			if !ok {
				sub = map[string]any{}
				dst[g] = sub
			}
			dst = sub
		}
		dst[parts[len(parts)-1]] = value
	}
	return m
}

// splitFields splits on spaces outside double quotes.
func splitFields(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	inQuote, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case inQuote && r == '\\':
			escaped = true
		case r == '"':
			inQuote = !inQuote
		case r == ' ' && !inQuote:
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	if inQuote {
		t.Fatalf("unterminated quote in %q", s)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
