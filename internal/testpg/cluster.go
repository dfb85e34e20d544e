package testpg

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Cluster is a private PostgreSQL server of one test, for the tests that
// need to do to the server what they must never do to the shared one:
// stop it under a running ConnectHub and start it again.
type Cluster struct {
	t   testing.TB
	dir string
	// URL reaches the cluster's postgres database as the superuser.
	URL string
}

// NewCluster starts a private cluster with scripts/pg-test-cluster.sh
// (initdb and a server on a free port: a few seconds) and stops and removes
// it when the test ends. Without the PostgreSQL server programs it skips,
// or fails under CONNECTHUB_TEST_STRICT=1.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{t: t, dir: filepath.Join(t.TempDir(), "cluster")}
	out, err := c.script("start")
	if err != nil {
		if os.Getenv(EnvStrict) == "1" {
			t.Fatalf("testpg: a private PostgreSQL cluster did not start: %v\n%s", err, out)
		}
		t.Skipf("testpg: a private PostgreSQL cluster did not start (needs the PostgreSQL server programs): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := c.script("stop"); err != nil {
			t.Errorf("testpg: stopping the private cluster: %v\n%s", err, out)
		}
	})
	c.URL = strings.TrimSpace(lastLine(out))
	return c
}

// Pause stops the server as an operator's restart would (open sessions
// end, data stays), so that every connection attempt is refused until
// Resume.
func (c *Cluster) Pause() {
	c.t.Helper()
	if out, err := c.script("pause"); err != nil {
		c.t.Fatalf("testpg: pause: %v\n%s", err, out)
	}
}

// Resume starts the paused server again on the same port.
func (c *Cluster) Resume() {
	c.t.Helper()
	if out, err := c.script("resume"); err != nil {
		c.t.Fatalf("testpg: resume: %v\n%s", err, out)
	}
}

func (c *Cluster) script(cmd string) (string, error) {
	var out bytes.Buffer
	x := exec.Command("bash", scriptPath(), cmd, c.dir)
	x.Stdout, x.Stderr = &out, &out
	err := x.Run()
	return out.String(), err
}

// scriptPath finds scripts/pg-test-cluster.sh from this source file, so a
// test in any package's directory can use it.
func scriptPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "pg-test-cluster.sh")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
