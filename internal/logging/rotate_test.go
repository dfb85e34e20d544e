package logging

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// readFile returns the content of path, or "<missing>" if it does not exist.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func open(t *testing.T, path string, maxBytes int64, keep int) *RotatingFile {
	t.Helper()
	r, err := OpenRotatingFile(path, maxBytes, keep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func write(t *testing.T, r *RotatingFile, s string) {
	t.Helper()
	n, err := r.Write([]byte(s))
	if err != nil || n != len(s) {
		t.Fatalf("Write(%q) = %d, %v", s, n, err)
	}
}

// lines returns "line-<from>\n" … "line-<to-1>\n" as one string.
func lines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line-%02d\n", i)
	}
	return b.String()
}

func TestRotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keep int
		want map[string]string // file suffix → content
	}{
		{
			// Each line is 8 bytes, so a 100-byte file holds 12 lines.
			name: "keeps the newest old files",
			keep: 2,
			want: map[string]string{"": lines(36, 40), ".1": lines(24, 36), ".2": lines(12, 24), ".3": "<missing>"},
		},
		{
			name: "keeps more files than exist",
			keep: 5,
			want: map[string]string{"": lines(36, 40), ".1": lines(24, 36), ".2": lines(12, 24), ".3": lines(0, 12), ".4": "<missing>"},
		},
		{
			name: "keep 0 starts afresh",
			keep: 0,
			want: map[string]string{"": lines(36, 40), ".1": "<missing>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "connecthub.log")
			r := open(t, path, 100, tt.keep)
			for i := range 40 {
				write(t, r, lines(i, i+1))
			}
			for suffix, want := range tt.want {
				if got := readFile(t, path+suffix); got != want {
					t.Errorf("%s:\n got %q\nwant %q", filepath.Base(path+suffix), got, want)
				}
			}
		})
	}
}

func TestOversizedWriteGetsAFileOfItsOwn(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "app.log")
	r := open(t, path, 10, 3)
	big := strings.Repeat("x", 30) + "\n"

	write(t, r, big) // into an empty file: written whole, no rotation
	if got := readFile(t, path); got != big {
		t.Fatalf("first write: %q", got)
	}
	write(t, r, "a\n")
	write(t, r, big)
	write(t, r, "b\n")
	for suffix, want := range map[string]string{"": "b\n", ".1": big, ".2": "a\n", ".3": big} {
		if got := readFile(t, path+suffix); got != want {
			t.Errorf("%s: got %q, want %q", filepath.Base(path+suffix), got, want)
		}
	}
}

func TestReopenContinuesTheExistingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "app.log")
	old := strings.Repeat("o", 89) + "\n"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	r := open(t, path, 100, 1)
	write(t, r, "short\n") // 96 bytes: still fits
	write(t, r, "this one does not fit\n")
	if got, want := readFile(t, path+".1"), old+"short\n"; got != want {
		t.Errorf(".1 = %q, want %q", got, want)
	}
	if got := readFile(t, path); got != "this one does not fit\n" {
		t.Errorf("current = %q", got)
	}
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	const writers, perWriter, maxBytes = 8, 250, 1024
	// Enough old files to keep everything, so every line can be checked.
	r := open(t, path, maxBytes, 1000)

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				line := fmt.Sprintf("writer=%d seq=%04d %s\n", w, i, strings.Repeat("z", 20))
				if _, err := r.Write([]byte(line)); err != nil {
					t.Errorf("Write: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 2 {
		t.Fatalf("%d files: the test did not rotate", len(entries))
	}
	valid := regexp.MustCompile(`^writer=\d seq=\d{4} z{20}$`)
	seen := map[string]int{}
	for _, e := range entries {
		content := readFile(t, filepath.Join(dir, e.Name()))
		if len(content) > maxBytes {
			t.Errorf("%s has %d bytes, over the %d limit", e.Name(), len(content), maxBytes)
		}
		for line := range strings.SplitSeq(strings.TrimSuffix(content, "\n"), "\n") {
			if !valid.MatchString(line) {
				t.Errorf("%s: torn or interleaved line %q", e.Name(), line)
			}
			seen[line]++
		}
	}
	if len(seen) != writers*perWriter {
		t.Errorf("%d distinct lines, want %d", len(seen), writers*perWriter)
	}
	for line, n := range seen {
		if n != 1 {
			t.Errorf("line %q written %d times", line, n)
		}
	}
}

func TestRotationFailureKeepsLogging(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "app.log")
	// A non-empty directory where the rotated file should go makes both
	// the removal of the oldest file and the rename fail.
	if err := os.MkdirAll(filepath.Join(path+".1", "blocker"), 0o750); err != nil {
		t.Fatal(err)
	}
	r := open(t, path, 10, 1)
	write(t, r, "0123456789")
	write(t, r, "after a failed rotation\n")
	if got, want := readFile(t, path), "0123456789after a failed rotation\n"; got != want {
		t.Errorf("current = %q, want %q", got, want)
	}

	// Once the obstacle is gone, the next write rotates.
	if err := os.RemoveAll(path + ".1"); err != nil {
		t.Fatal(err)
	}
	write(t, r, "rotated\n")
	if got := readFile(t, path); got != "rotated\n" {
		t.Errorf("current = %q", got)
	}
	if got := readFile(t, path+".1"); got != "0123456789after a failed rotation\n" {
		t.Errorf(".1 = %q", got)
	}
}

func TestOpenRotatingFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		maxBytes int64
		keep     int
		want     string
	}{
		{"empty path", "", 10, 1, "logging: rotating file: empty path"},
		{"zero size", filepath.Join(dir, "a.log"), 0, 1, "size limit must be > 0, got 0"},
		{"negative keep", filepath.Join(dir, "a.log"), 10, -1, "number of old files to keep must be >= 0, got -1"},
		{"parent is a file", filepath.Join(notDir, "a.log"), 10, 1, "not a directory"},
		{"path is a directory", dir, 10, 1, "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := OpenRotatingFile(tt.path, tt.maxBytes, tt.keep)
			if err == nil {
				_ = r.Close()
				t.Fatal("OpenRotatingFile succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestCreatesTheDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "b", "app.log")
	r := open(t, path, 100, 1)
	write(t, r, "hi\n")
	if got := readFile(t, path); got != "hi\n" {
		t.Errorf("content = %q", got)
	}
}

func TestWriteAfterClose(t *testing.T) {
	t.Parallel()
	r := open(t, filepath.Join(t.TempDir(), "app.log"), 100, 1)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
