package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// logAll logs one record at each level and returns the output lines.
func logAll(t *testing.T, opts Options) []string {
	t.Helper()
	var buf bytes.Buffer
	opts.Stdout = &buf
	logger, closer, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	defer closer.Close()
	logger.Debug("d")
	logger.Info("i")
	logger.Warn("w")
	logger.Error("e")
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

func TestLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level string
		want  []string // messages that get through
	}{
		{"", []string{"i", "w", "e"}},
		{"info", []string{"i", "w", "e"}},
		{"debug", []string{"d", "i", "w", "e"}},
		{"warn", []string{"w", "e"}},
		{"WARNING", []string{"w", "e"}},
		{" error ", []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			t.Parallel()
			lines := logAll(t, Options{Format: "json", Level: tt.level})
			var got []string
			for _, l := range lines {
				var rec struct{ Msg string }
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				got = append(got, rec.Msg)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format string
		check  func(t *testing.T, line string)
	}{
		{"", func(t *testing.T, line string) {
			if !strings.Contains(line, "level=INFO msg=i") {
				t.Errorf("text line %q", line)
			}
		}},
		{"text", func(t *testing.T, line string) {
			if !strings.Contains(line, "level=INFO msg=i") {
				t.Errorf("text line %q", line)
			}
		}},
		{"JSON", func(t *testing.T, line string) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("json line %q: %v", line, err)
			}
			if rec["level"] != "INFO" || rec["msg"] != "i" || rec["time"] == nil {
				t.Errorf("json record %v", rec)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			t.Parallel()
			lines := logAll(t, Options{Format: tt.format})
			if len(lines) != 3 {
				t.Fatalf("%d lines: %q", len(lines), lines)
			}
			tt.check(t, lines[0])
		})
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"format", Options{Format: "xml"}, `logging: unknown format "xml" (use text or json)`},
		{"level", Options{Level: "verbose"}, `logging: unknown level "verbose" (use debug, info, warn or error)`},
		{"dir", Options{Dir: notDir}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDirGetsEveryRecordToo(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "logs")
	var stdout bytes.Buffer
	logger, closer, err := New(Options{Format: "json", Dir: dir, Stdout: &stdout})
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("hello", "n", 1)
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(file), `"msg":"hello","n":1`) || string(file) != stdout.String() {
		t.Errorf("file %q and stdout %q should hold the same record", file, stdout.String())
	}

	// After Close the file refuses writes, but stdout keeps logging.
	logger.Info("after close")
	if !strings.Contains(stdout.String(), "after close") {
		t.Errorf("stdout lost a record after the file was closed: %q", stdout.String())
	}
	if err := closer.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestCloserWithoutDir(t *testing.T) {
	t.Parallel()
	_, closer, err := New(Options{Stdout: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	if closer == nil || closer.Close() != nil {
		t.Error("the closer must be usable without a log directory")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTeeWritesEverywhereDespiteFailures(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	_, err := tee{&a, failingWriter{}, &b}.Write([]byte("rec\n"))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v, want the failure reported", err)
	}
	if a.String() != "rec\n" || b.String() != "rec\n" {
		t.Errorf("a = %q, b = %q: every healthy writer must get the record", a.String(), b.String())
	}
}
