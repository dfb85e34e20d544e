package server_test

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
)

// privatePaths are the files a SQLite node creates in its data directory.
func privatePaths(dir string) []string {
	db := filepath.Join(dir, "connecthub.db")
	return []string{db, db + "-wal", db + "-shm", db + ".lock", filepath.Join(dir, "fernet.key"), filepath.Join(dir, "admin.token")}
}

// TestDataDirIsPrivate is finding 13: a new data directory is 0700 and
// every file the node creates in it 0600, whatever the umask allows.
func TestDataDirIsPrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(t, dir)
	cfg.AdminToken = "" // generated into admin.token
	n := startNode(t, cfg)
	token, err := os.ReadFile(cfg.AdminTokenPath())
	if err != nil {
		t.Fatal(err)
	}
	// A write, so that the WAL certainly exists.
	c := clientFrom(t, "127.0.0.1")
	req := n.request("POST", "/api/v1/jobs", `{"id":"files.check","handler":"noop"}`, "Authorization", "Bearer "+strings.TrimSpace(string(token)))
	if resp, body := n.send(c, req); resp.StatusCode != 201 {
		t.Fatalf("create job: %d %s", resp.StatusCode, body)
	}
	if mode := modeOf(t, dir); mode != 0o700 {
		t.Errorf("data directory mode %04o, want 0700", mode)
	}
	for _, p := range privatePaths(dir) {
		if mode := modeOf(t, p); mode != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), mode)
		}
	}
	if strings.Contains(n.logs.String(), "accessible to other users") {
		t.Errorf("warned about files it created itself:\n%s", n.logs.String())
	}
}

func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// TestLooseModesAreWarned: an existing data directory or file that others
// may read gets one WARN line naming its path and mode at start.
func TestLooseModesAreWarned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.AdminToken = ""
	buildNode(t, cfg)()
	loose := map[string]fs.FileMode{
		dir:                                 0o755,
		filepath.Join(dir, "connecthub.db"): 0o644,
		filepath.Join(dir, "fernet.key"):    0o640,
		filepath.Join(dir, "admin.token"):   0o604,
	}
	for p, m := range loose {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	n := startNode(t, cfg)
	logs := n.logs.String()
	for p, m := range loose {
		var lines []string
		for line := range strings.Lines(logs) {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "path="+p+" ") {
				lines = append(lines, line)
			}
		}
		if len(lines) != 1 || !strings.Contains(lines[0], fmt.Sprintf("mode=%04o", m)) {
			t.Errorf("%s (%04o): warning lines %q, want one naming the mode", p, m, lines)
		}
	}
	if strings.Contains(logs, "path="+filepath.Join(dir, "connecthub.db-wal")+" ") {
		t.Error("warned about the WAL, which was 0600")
	}
}

// buildNode builds a node (creating its files) without running it; the
// returned func releases it.
func buildNode(t *testing.T, cfg *config.Config) (stop func()) {
	t.Helper()
	srv, err := server.New(t.Context(), cfg, server.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecondServeOnOneDatabaseRefused is finding 13: a second node on the
// same SQLite database refuses to start and names the holder's PID; once
// the first is gone, the lock is free again.
func TestSecondServeOnOneDatabaseRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := server.New(t.Context(), testConfig(t, dir), server.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.New(t.Context(), testConfig(t, dir), server.Options{LogOutput: io.Discard})
	want := "another connecthub serve (PID " + strconv.Itoa(os.Getpid()) + ") is using the SQLite database " + filepath.Join(dir, "connecthub.db")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second New = %v, want %q", err, want)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := server.New(t.Context(), testConfig(t, dir), server.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatalf("New after the first closed: %v", err)
	}
	again.Close()
}
