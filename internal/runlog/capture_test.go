package runlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// expectTruncated models the truncation contract independently of the
// implementation's bookkeeping: the first MaxBytes-13 bytes of the full log,
// moved back to a rune boundary, then the marker on a line of its own.
func expectTruncated(full string, maxBytes int) string {
	if len(full) <= maxBytes {
		return full
	}
	keep := maxBytes - len("\n[TRUNCATED]\n")
	for keep > 0 && !utf8.RuneStart(full[keep]) {
		keep--
	}
	kept := full[:keep]
	if kept == "" || strings.HasSuffix(kept, "\n") {
		return kept + "[TRUNCATED]\n"
	}
	return kept + "\n[TRUNCATED]\n"
}

func TestTruncationBoundaries(t *testing.T) {
	t.Parallel()
	const maxBytes = 100
	// Every line is header (30 bytes) + body + "\n".
	room := maxBytes - len(header) - 1 // body bytes that fill the log exactly
	tests := []struct {
		name   string
		bodies []string
		want   string // "" means expectTruncated of the full log
	}{
		{"fits exactly, no marker", []string{strings.Repeat("a", room)}, header + strings.Repeat("a", room) + "\n"},
		{"one byte over", []string{strings.Repeat("a", room+1)}, header + strings.Repeat("a", maxBytes-13-len(header)) + "\n[TRUNCATED]\n"},
		{"two lines fit exactly", []string{strings.Repeat("b", 10), strings.Repeat("c", maxBytes-2*len(header)-2-10)}, ""},
		{"second line cut", []string{"first", strings.Repeat("x", 80)}, ""},
		{"cut right after a newline", []string{strings.Repeat("a", maxBytes-13-len(header)-1), "next"}, header + strings.Repeat("a", maxBytes-13-len(header)-1) + "\n[TRUNCATED]\n"},
		{"2-byte runes, cut inside one", []string{strings.Repeat("é", 40)}, ""},
		{"3-byte runes", []string{strings.Repeat("日本", 20)}, ""},
		{"4-byte runes", []string{strings.Repeat("🙂", 20)}, ""},
		{"mixed widths over several lines", []string{"aé", "日🙂b", strings.Repeat("é日🙂", 10), "dropped"}, ""},
		{"everything after the cut dropped", []string{strings.Repeat("z", 200), "later", "later"}, ""},
	}
	for _, tt := range tests {
		for _, mode := range []string{"flush at close only", "flush after every line"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				c, sink := newCapture(t, Config{MaxBytes: maxBytes, FlushInterval: time.Hour})
				var full strings.Builder
				for _, b := range tt.bodies {
					full.WriteString(header + b + "\n")
					c.Logf(slog.LevelInfo, "%s", b)
					if mode == "flush after every line" {
						// Flush synchronously, as the flusher would between lines.
						if err := c.flush(context.Background(), false); err != nil {
							t.Fatal(err)
						}
					}
				}
				closeCapture(t, c)
				want := tt.want
				if want == "" {
					want = expectTruncated(full.String(), maxBytes)
				}
				got := sink.stored()
				if got != want {
					t.Errorf("log =\n%q\nwant\n%q", got, want)
				}
				if len(got) > maxBytes {
					t.Errorf("log is %d bytes, more than MaxBytes %d", len(got), maxBytes)
				}
				if !utf8.ValidString(got) {
					t.Errorf("log is not valid UTF-8: %q", got)
				}
				for i, chunk := range sink.chunks {
					if !utf8.ValidString(chunk) {
						t.Errorf("chunk %d splits a rune: %q", i, chunk)
					}
				}
				truncated := len(full.String()) > maxBytes
				if c.Truncated() != truncated || strings.HasSuffix(got, "[TRUNCATED]\n") != truncated {
					t.Errorf("Truncated() = %v, marker present = %v, want %v", c.Truncated(), strings.HasSuffix(got, "[TRUNCATED]\n"), truncated)
				}
				if c.Bytes() != len(got) {
					t.Errorf("Bytes() = %d, want %d", c.Bytes(), len(got))
				}
			})
		}
	}
}

// TestTruncationKeepsWarnings checks that warnings are still collected once
// the log is full, because the summary matters most when the log was cut.
func TestTruncationKeepsWarnings(t *testing.T) {
	t.Parallel()
	c, sink := newCapture(t, Config{MaxBytes: MinMaxBytes, FlushInterval: time.Hour})
	l := c.Logger()
	l.Info(strings.Repeat("x", 100))
	if !c.Truncated() {
		t.Fatal("log not truncated")
	}
	if l.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("INFO still enabled after the log was cut: records would be formatted for nothing")
	}
	if !l.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("WARN disabled after the log was cut: the message would miss warnings")
	}
	l.Warn("late warning", "k", "v")
	l.Info("dropped")
	closeCapture(t, c)
	if got := c.Warnings(); len(got) != 1 || got[0] != "late warning k=v" {
		t.Errorf("Warnings() = %q", got)
	}
	if strings.Contains(sink.stored(), "late warning") {
		t.Error("a line was stored after the cut")
	}
}

func TestConfigDefaultsAndValidate(t *testing.T) {
	t.Parallel()
	sink := SinkFunc(func(context.Context, string, string) error { return nil })
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		want    Config // fields checked after withDefaults
	}{
		{"zero", Config{}, "", Config{MaxBytes: DefaultMaxBytes, FlushInterval: DefaultFlushInterval, FlushBytes: DefaultFlushBytes}},
		{"explicit", Config{RunID: "r", Sink: sink, MaxBytes: 1000, FlushInterval: time.Second, FlushBytes: 10}, "", Config{MaxBytes: 1000, FlushInterval: time.Second, FlushBytes: 10}},
		{"negative max", Config{MaxBytes: -1}, "MaxBytes -1", Config{MaxBytes: DefaultMaxBytes, FlushInterval: DefaultFlushInterval, FlushBytes: DefaultFlushBytes}},
		{"tiny max", Config{MaxBytes: 10}, "at least 64", Config{MaxBytes: MinMaxBytes, FlushInterval: DefaultFlushInterval, FlushBytes: DefaultFlushBytes}},
		{"negative interval", Config{FlushInterval: -time.Second}, "FlushInterval -1s", Config{MaxBytes: DefaultMaxBytes, FlushInterval: DefaultFlushInterval, FlushBytes: DefaultFlushBytes}},
		{"negative flush bytes", Config{FlushBytes: -5}, "FlushBytes -5", Config{MaxBytes: DefaultMaxBytes, FlushInterval: DefaultFlushInterval, FlushBytes: DefaultFlushBytes}},
		{"sink without run", Config{Sink: sink}, "RunID is required", Config{MaxBytes: DefaultMaxBytes, FlushInterval: DefaultFlushInterval, FlushBytes: DefaultFlushBytes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			got := tt.cfg.withDefaults()
			if got.MaxBytes != tt.want.MaxBytes || got.FlushInterval != tt.want.FlushInterval || got.FlushBytes != tt.want.FlushBytes || got.Level.Level() != slog.LevelInfo {
				t.Errorf("withDefaults() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestBurstStaysBounded logs 10 MB from several goroutines while the Sink is
// stuck: logging must not block, memory must stay within MaxBytes, and the
// stored log must respect the cap once the Sink recovers.
func TestBurstStaysBounded(t *testing.T) {
	t.Parallel()
	const maxBytes = 64 << 10
	sink := newTestSink()
	sink.release = make(chan struct{})
	c, _ := newCapture(t, Config{MaxBytes: maxBytes, FlushInterval: time.Millisecond, FlushBytes: 1024, Sink: sink, Secrets: []string{"hunter2"}})
	line := strings.Repeat("0123456789", 10) + " hunter2" // ~140 bytes per stored line
	const goroutines = 8
	perGoroutine := (10 << 20) / len(line) / goroutines
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := c.Logger().With("g", g)
			w := c.Writer(slog.LevelInfo)
			for i := range perGoroutine {
				if i%2 == 0 {
					l.Info(line, "i", i)
				} else {
					fmt.Fprintf(w, "%s %d\n", line, i)
				}
			}
		})
	}
	wg.Wait() // returns although the Sink has not accepted a single byte

	c.mu.Lock()
	pending, capacity := len(c.buf), cap(c.buf)
	c.mu.Unlock()
	if pending > maxBytes || capacity > 2*maxBytes {
		t.Errorf("buffer holds %d bytes with capacity %d; want at most MaxBytes %d", pending, capacity, maxBytes)
	}
	if !c.Truncated() {
		t.Error("log not truncated after a 10 MB burst")
	}

	close(sink.release)
	closeCapture(t, c)
	got := sink.stored()
	if len(got) > maxBytes || len(got) < maxBytes-200 {
		t.Errorf("stored %d bytes, want close to but at most %d", len(got), maxBytes)
	}
	if !strings.HasSuffix(got, "\n[TRUNCATED]\n") {
		t.Errorf("log does not end with the marker: %q", got[max(0, len(got)-40):])
	}
	if strings.Contains(got, "hunter2") {
		t.Error("secret stored")
	}
}

// TestLiveFlush checks that lines reach the Sink while the handler is still
// running, without waiting for Close.
func TestLiveFlush(t *testing.T) {
	t.Parallel()
	c, sink := newCapture(t, Config{FlushInterval: 5 * time.Millisecond})
	firstStored := make(chan struct{})
	handlerDone := make(chan struct{})
	go func() { // the "handler"
		defer close(handlerDone)
		c.Logger().Info("step 1")
		<-firstStored // still running: blocked until the first line is visible
		c.Logger().Info("step 2")
	}()
	sink.waitFor(t, "the first line", func(s *testSink) bool {
		return strings.Join(s.chunks, "") == header+"step 1\n"
	})
	close(firstStored)
	<-handlerDone
	closeCapture(t, c)
	if got, want := sink.stored(), header+"step 1\n"+header+"step 2\n"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}

// TestFlushBytesTriggersEarlyFlush checks that a full buffer is flushed
// without waiting for the (here: very long) interval.
func TestFlushBytesTriggersEarlyFlush(t *testing.T) {
	t.Parallel()
	c, sink := newCapture(t, Config{FlushInterval: time.Hour, FlushBytes: 100})
	for i := range 5 {
		c.Logf(slog.LevelInfo, "line %d with some padding to pass the threshold", i)
	}
	sink.waitFor(t, "an early flush", func(s *testSink) bool { return len(s.chunks) > 0 })
}

func TestCloseFlushesTheRest(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"live context", context.Background()},
		{"cancelled context", cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The interval never fires: only Close can store the lines.
			c, sink := newCapture(t, Config{FlushInterval: time.Hour})
			c.Logger().Info("a")
			c.Logf(slog.LevelError, "b %d", 2)
			w := c.Writer(slog.LevelInfo)
			fmt.Fprint(w, "unterminated")
			if err := c.Close(tt.ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			want := header + "a\n2026-11-24T06:43:21.123Z ERROR b 2\n" + header + "unterminated\n"
			if got := sink.stored(); got != want {
				t.Errorf("log = %q, want %q", got, want)
			}
			if sink.numCalls() != 1 {
				t.Errorf("Sink called %d times, want once", sink.numCalls())
			}
			if err := sink.ctxErrs[0]; err != nil {
				t.Errorf("final flush ran with a done context: %v", err)
			}
		})
	}
}

func TestCloseTwiceAndWritesAfterClose(t *testing.T) {
	t.Parallel()
	c, sink := newCapture(t, Config{FlushInterval: time.Hour})
	w := c.Writer(slog.LevelInfo)
	c.Logger().Info("before")
	closeCapture(t, c)
	closeCapture(t, c)
	c.Logger().Info("after")
	c.Logf(slog.LevelWarn, "after")
	if n, err := w.Write([]byte("after\n")); n != 6 || err != nil {
		t.Errorf("Write after Close = %d, %v; want 6, nil", n, err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("third Close: %v", err)
	}
	if got := sink.stored(); got != header+"before\n" {
		t.Errorf("log = %q", got)
	}
	if sink.numCalls() != 1 {
		t.Errorf("Sink called %d times, want once", sink.numCalls())
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("a warning was recorded after Close: %q", c.Warnings())
	}
}

// TestRunWithoutOutput checks that a silent run starts no goroutine and
// never calls the Sink.
func TestRunWithoutOutput(t *testing.T) {
	t.Parallel()
	c, sink := newCapture(t, Config{})
	_ = c.Logger()
	_ = c.StderrWriter()
	c.Logger().Debug("below the level")
	closeCapture(t, c)
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if started {
		t.Error("the flusher was started for a run without output")
	}
	if sink.numCalls() != 0 {
		t.Errorf("Sink called %d times", sink.numCalls())
	}
}

func TestSinkErrorThenRecovery(t *testing.T) {
	t.Parallel()
	sink := newTestSink()
	sink.failFirst = 2
	c, _ := newCapture(t, Config{FlushInterval: time.Millisecond, Sink: sink})
	c.Logger().Info("one")
	sink.waitFor(t, "two failures and a success", func(s *testSink) bool { return s.fails == 2 && len(s.chunks) == 1 })
	c.Logger().Info("two")
	closeCapture(t, c)
	if got, want := sink.stored(), header+"one\n"+header+"two\n"; got != want {
		t.Errorf("log = %q, want %q (nothing lost, nothing duplicated)", got, want)
	}
}

func TestCloseReportsFailingSink(t *testing.T) {
	t.Parallel()
	sink := newTestSink()
	sink.failAlways = true
	c, _ := newCapture(t, Config{FlushInterval: time.Hour, Sink: sink})
	c.Logger().Info("lost")
	err := c.Close(context.Background())
	if !errors.Is(err, errSinkDown) || !strings.Contains(err.Error(), "35 bytes") {
		t.Fatalf("Close = %v, want the Sink's error and the number of bytes", err)
	}
	if sink.numCalls() != finalFlushAttempts+1 {
		t.Errorf("Sink called %d times, want %d attempts and one for the incomplete marker", sink.numCalls(), finalFlushAttempts)
	}
	if again := c.Close(context.Background()); again != err {
		t.Errorf("second Close = %v, want the first result %v", again, err)
	}
}

// TestCloseDoesNotWaitForAHungSink checks that Close, once its context is
// done, abandons a background append that hangs, then still tries to store
// the rest under its own timeout and reports the failure.
func TestCloseDoesNotWaitForAHungSink(t *testing.T) {
	t.Parallel()
	sink := newTestSink()
	sink.release = make(chan struct{}) // every call hangs until its context is done
	c, _ := newCapture(t, Config{FlushInterval: time.Millisecond, Sink: sink})
	c.finalTimeout = 50 * time.Millisecond
	c.Logger().Info("x")
	sink.waitFor(t, "the background append", func(s *testSink) bool { return s.entered == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the final flush's deadline error", err)
	}
	if got := sink.ctxErrs[0]; !errors.Is(got, context.Canceled) {
		t.Errorf("background append ended with %v, want context.Canceled", got)
	}
	if sink.calls < 2 {
		t.Errorf("Sink called %d times: the final flush was not attempted", sink.calls)
	}
}

// TestConcurrentLogging logs from many goroutines through every entry point
// and checks that each line is stored exactly once, in per-goroutine order.
func TestConcurrentLogging(t *testing.T) {
	t.Parallel()
	c, sink := newCapture(t, Config{FlushInterval: time.Millisecond, FlushBytes: 512, Now: nil})
	const goroutines, lines = 16, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := c.Logger()
			w := c.Writer(slog.LevelInfo)
			for i := range lines {
				switch i % 3 {
				case 0:
					l.Info("line", "g", g, "i", i)
				case 1:
					c.Logf(slog.LevelInfo, "line g=%d i=%d", g, i)
				default:
					// Two writes per line exercise partial lines.
					fmt.Fprintf(w, "line g=%d", g)
					fmt.Fprintf(w, " i=%d\n", i)
				}
				if i%50 == 0 {
					_ = c.Bytes()
					_ = c.Warnings()
				}
			}
		})
	}
	wg.Wait()
	closeCapture(t, c)
	next := make([]int, goroutines)
	count := 0
	for _, body := range bodies(sink.stored()) {
		var g, i int
		if _, err := fmt.Sscanf(body, "INFO line g=%d i=%d", &g, &i); err != nil {
			t.Fatalf("unexpected line %q: %v", body, err)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: line %d stored after line %d", g, i, next[g]-1)
		}
		next[g]++
		count++
	}
	if count != goroutines*lines {
		t.Errorf("stored %d lines, want %d", count, goroutines*lines)
	}
}

func TestNilSinkDiscards(t *testing.T) {
	t.Parallel()
	c := New(Config{FlushInterval: time.Millisecond})
	c.Logger().Warn("careful")
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Warnings(); len(got) != 1 {
		t.Errorf("Warnings() = %q", got)
	}
}
