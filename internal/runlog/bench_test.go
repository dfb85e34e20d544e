package runlog

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// discardSink accepts everything, so that benchmarks measure the capture and
// not a database.
var discardSink = SinkFunc(func(context.Context, string, string) error { return nil })

// benchCapture returns a Capture whose cap is never reached, so that every
// iteration takes the full path (format, mask, buffer) instead of being
// dropped.
func benchCapture(b *testing.B, secrets []string) *Capture {
	b.Helper()
	c := New(Config{RunID: "bench", Sink: discardSink, MaxBytes: 1 << 40, Secrets: secrets})
	b.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return c
}

func BenchmarkLoggerLine(b *testing.B) {
	for _, bc := range []struct {
		name    string
		secrets []string
	}{
		{"no secrets", nil},
		{"3 secrets", []string{"hunter2", "sk_live_0123456789abcdef", `p@ss "word"`}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := benchCapture(b, bc.secrets).Logger()
			b.ReportAllocs()
			for b.Loop() {
				l.Info("member updated", "employee_no", "E1024", "company", "ConnectHub Ltd", "attempt", 1)
			}
		})
	}
}

func BenchmarkLoggerLineParallel(b *testing.B) {
	l := benchCapture(b, []string{"hunter2"}).Logger()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Info("member updated", "employee_no", "E1024", "attempt", 1)
		}
	})
}

func BenchmarkWriterLine(b *testing.B) {
	w := benchCapture(b, []string{"hunter2"}).Writer(slog.LevelInfo)
	line := []byte("+ rsync -a /data/export/ backup:/srv/export/ (1024 files)\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoggerLineAfterCap measures a line logged once the log is full:
// it must be rejected before it is formatted.
func BenchmarkLoggerLineAfterCap(b *testing.B) {
	c := New(Config{RunID: "bench", Sink: discardSink, MaxBytes: MinMaxBytes})
	defer c.Close(context.Background())
	l := c.Logger()
	l.Info(string(make([]byte, 2*MinMaxBytes)))
	b.ReportAllocs()
	for b.Loop() {
		l.Info("member updated", "employee_no", "E1024", "attempt", 1)
	}
}

// BenchmarkRunWithoutOutput measures the whole life of a Capture for a run
// that logs nothing, the common case for scheduled no-op jobs.
func BenchmarkRunWithoutOutput(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name    string
		secrets []string
	}{
		{"no secrets", nil},
		{"2 secrets", []string{"hunter2", "sk_live_0123456789abcdef"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := New(Config{RunID: "bench", Sink: discardSink, Secrets: bc.secrets})
				_ = c.Logger()
				if err := c.Close(ctx); err != nil {
					b.Fatal(err)
				}
				_ = c.Message("ok")
			}
		})
	}
}

// serverSecrets stand for what `serve` masks in every run: an admin token,
// an admin password, two Fernet keys and a database password.
var serverSecrets = []string{
	"8f14e45fceea167a5a36dedd4bea2543a1b2c3d4", "correct horse battery staple",
	"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=", "Ab3NRZN9hHkzVy2J-0kSqKeNxqaEqNWD-4IPb8y-5Ck=", "pg-p@ss w0rd",
}

func BenchmarkMask(b *testing.B) {
	runSecrets := []string{"hunter2", "sk_live_0123456789abcdef"}
	long := strings.Repeat("2026-11-24T06:43:21.123Z INFO member updated employee_no=E1024 company=ConnectHub ", 50)
	for _, mc := range []struct {
		name    string
		secrets []string
	}{
		{"2 secrets", runSecrets},
		{"2 secrets+server's 5", append(slices.Clone(serverSecrets), runSecrets...)},
	} {
		m := NewMasker(mc.secrets)
		for _, bc := range []struct{ name, line string }{
			{"clean", "2026-11-24T06:43:21.123Z INFO member updated employee_no=E1024 company=ConnectHub"},
			{"with secret", "2026-11-24T06:43:21.123Z INFO calling https://api.example.com/?key=sk_live_0123456789abcdef"},
			{"clean 4KB", long},
		} {
			b.Run(mc.name+"/"+bc.name, func(b *testing.B) {
				b.SetBytes(int64(len(bc.line)))
				b.ReportAllocs()
				for b.Loop() {
					_ = m.Mask(bc.line)
				}
			})
		}
	}
}

// BenchmarkNewMasker measures building a run's masker: from scratch, and on
// top of the server's, built once.
func BenchmarkNewMasker(b *testing.B) {
	runSecrets := []string{"hunter2", "sk_live_0123456789abcdef"}
	b.Run("2 secrets", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = NewMasker(runSecrets)
		}
	})
	b.Run("2 secrets+server's 5", func(b *testing.B) {
		server := NewMasker(serverSecrets)
		b.ReportAllocs()
		for b.Loop() {
			_ = server.With(runSecrets)
		}
	})
}

var _ io.Writer = (*lineWriter)(nil)
