package cli_test

import (
	"strconv"
	"strings"
	"testing"
)

// serveEnv is the environment of an in-process serve on dataDir.
func serveEnv(dataDir string, extra map[string]string) map[string]string {
	env := map[string]string{
		"CONNECTHUB_LISTEN":      "127.0.0.1:0",
		"CONNECTHUB_DATA_DIR":    dataDir,
		"CONNECTHUB_ADMIN_TOKEN": testToken,
		"CONNECTHUB_TIMEZONE":    "UTC",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// TestSecondServeRefusedUntilHolderKilled is finding 13 with real
// processes: while one serve holds a SQLite database, a second refuses to
// start and names the holder's PID; after kill -9 of the holder, the
// kernel has released its lock and a new serve starts.
func TestSecondServeRefusedUntilHolderKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	holder := startProc(t, dir, nil)
	code, _, errOut := runCLI(t, serveEnv(dir, nil), "", "serve")
	want := "another connecthub serve (PID " + strconv.Itoa(holder.cmd.Process.Pid) + ") is using the SQLite database"
	if code == 0 || !strings.Contains(errOut, want) {
		t.Fatalf("second serve: exit %d, stderr %q; want a refusal containing %q", code, errOut, want)
	}
	if err := holder.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	holder.wait()
	next := startProc(t, dir, nil)
	if _, err := next.client.ListJobs(t.Context(), nil); err != nil {
		t.Fatalf("serve after kill -9 of the holder: %v", err)
	}
}

// TestServeRefusesShortSecrets is finding 7: a short admin token or
// password was accepted; now serve stops and says why, never the value.
func TestServeRefusesShortSecrets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, variable, value string
	}{
		{"admin token", "CONNECTHUB_ADMIN_TOKEN", "q7z"},
		{"admin password", "CONNECTHUB_ADMIN_PASSWORD", "hunter2-hunter2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runCLI(t, serveEnv(t.TempDir(), map[string]string{tc.variable: tc.value}), "", "serve")
			want := tc.variable + ": must be at least 16 characters"
			if code == 0 || !strings.Contains(errOut, want) || strings.Contains(errOut, tc.value) {
				t.Fatalf("serve: exit %d, stderr %q; want %q without the value", code, errOut, want)
			}
		})
	}
}
