//go:build linux

package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestProcessShellJobCannotPrintServerSecrets is the shell finding on a
// real serve: a job that prints the server's environment through /proc,
// and its key file, stores neither the admin token, the admin password
// nor the key in clear, and its own environment holds none of them.
func TestProcessShellJobCannotPrintServerSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const password = "the-admin-password-of-this-serve"
	p := startProc(t, dir, map[string]string{"CONNECTHUB_ENABLE_SHELL": "true", "CONNECTHUB_ADMIN_PASSWORD": password})
	script := `echo "own: $(env | tr '\n' ' ')"; tr '\0' '\n' </proc/$PPID/environ; head -n 5 "$KEYS"`
	body := `{"id":"snoop","handler":"shell","max_attempts":1,"public_cfg":{"command":"/bin/sh","args":["-c",` +
		strconv.Quote(script) + `],"env":{"KEYS":` + strconv.Quote(filepath.Join(dir, "fernet.key")) + `}}}`
	ctx := context.Background()
	if _, err := p.client.CreateJob(ctx, []byte(body)); err != nil {
		t.Fatal(err)
	}
	run, err := p.client.RunJob(ctx, "snoop")
	if err != nil {
		t.Fatal(err)
	}
	done := p.waitRun(run.ID, "the run to end", func(r *connecthub.Run) bool { return r.Status.Terminal() })
	if done.Status != connecthub.StatusSuccess {
		t.Fatalf("the run ended %s: %s", done.Status, done.Error)
	}
	log, _, err := p.client.RunLog(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dir, "fernet.key"))
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string]string{"admin token": testToken, "admin password": password, "key": strings.TrimSpace(string(key))} {
		if strings.Contains(log, secret) {
			t.Errorf("the run log shows the %s in clear", name)
		}
	}
	// The key file was read and its key masked. The server's environment
	// is masked where /proc lets the job read it at all (a serve that made
	// itself undumpable shows an empty one).
	if !strings.Contains(log, "INFO ******\n") {
		t.Errorf("the key file was not read, or its key not masked:\n%s", log)
	}
	for _, name := range []string{"CONNECTHUB_ADMIN_TOKEN=", "CONNECTHUB_ADMIN_PASSWORD="} {
		if i := strings.Index(log, name); i >= 0 && !strings.HasPrefix(log[i+len(name):], "******") {
			t.Errorf("the server's %s is not masked:\n%s", name, log)
		}
	}
	own, _, _ := strings.Cut(log, "\n")
	if strings.Contains(own, "CONNECTHUB_ADMIN") || strings.Contains(own, "CONNECTHUB_DATA_DIR") {
		t.Errorf("the job's own environment holds the server's: %s", own)
	}
}
