package deploytest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub/app"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/testenv"
)

// TestMain lets the test binary double as the connecthub program: the
// tests re-execute it with CONNECTHUB_TEST_AS_MAIN=1, so that replicas are
// real processes that receive real signals, without building a second
// binary for the tests that need no static one.
func TestMain(m *testing.M) {
	if os.Getenv("CONNECTHUB_TEST_AS_MAIN") == "1" {
		app.Main()
		return
	}
	code := m.Run()
	removeImages()
	cleanBuilds()
	os.Exit(code)
}

// strict reports whether a missing tool must fail the test instead of
// skipping it (CONNECTHUB_TEST_STRICT=1, set by make test and CI).
func strict() bool { return os.Getenv("CONNECTHUB_TEST_STRICT") == "1" }

// skipOrFail ends the test when a prerequisite is missing: a skip, or a
// failure under CONNECTHUB_TEST_STRICT=1.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if strict() {
		t.Fatal(msg + " (CONNECTHUB_TEST_STRICT=1: a failure here, not a skip)")
	}
	t.Skip(msg)
}

const testToken = "deploytest-admin-token-0123456789abcdef"

// openTempDir is a temporary directory, removed when the test ends, that
// other users may enter (mode 0755): unlike t.TempDir's parent, which is
// private to the user running the tests, while nginx's workers and
// containers run as other users.
func openTempDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Replicas need a fixed port, the one nginx's configuration names, and
// keep it across restarts.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// process is one connecthub program (this test binary as main, or another
// build) running as a child.
type process struct {
	t      *testing.T
	bin    string // "" means this test binary
	args   []string
	env    map[string]string
	dir    string
	cmd    *exec.Cmd
	logs   *testenv.Buffer
	exited chan struct{}
	err    error  // Wait's result, once exited is closed
	addr   string // the address serve listens on, once serving
	// serving is closed when serve logs that it serves.
	serving chan struct{}
}

// url is the base URL of a serving process.
func (p *process) url() string { return "http://" + p.addr }

// newProcess prepares `connecthub args...` with env on top of a minimal
// environment; start runs it.
func newProcess(t *testing.T, bin string, env map[string]string, args ...string) *process {
	return &process{t: t, bin: bin, args: args, env: env, dir: t.TempDir()}
}

var servingRe = regexp.MustCompile(`connecthub serving.*listen=(\S+)`)

// start runs the process and, for serve, waits until it logs that it
// serves. It fails the test if the process exits first.
func (p *process) start() {
	p.t.Helper()
	p.launch()
	if len(p.args) > 0 && p.args[0] == "serve" {
		p.waitServing()
	}
}

// launch starts the process and the reader of its output.
func (p *process) launch() {
	p.t.Helper()
	bin := p.bin
	vars := map[string]string{"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "TMPDIR": os.TempDir()}
	if bin == "" {
		bin = os.Args[0]
		vars["CONNECTHUB_TEST_AS_MAIN"] = "1"
	}
	for k, v := range p.env {
		vars[k] = v
	}
	p.cmd = exec.Command(bin, p.args...)
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Dir = p.dir
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	p.logs = &testenv.Buffer{}
	p.cmd.Stdout = p.logs
	p.exited = make(chan struct{})
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.serving = make(chan struct{})
	serving := p.serving
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		once := false
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			if m := servingRe.FindStringSubmatch(line); !once && m != nil {
				once = true
				p.addr = m[1]
				close(serving)
			}
		}
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	p.t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// waitServing waits until a serve process logs that it serves.
func (p *process) waitServing() {
	p.t.Helper()
	select {
	case <-p.serving:
	case <-p.exited:
		p.t.Fatalf("%s exited before serving: %v\n%s", strings.Join(p.args, " "), p.err, p.logs)
	case <-time.After(90 * time.Second):
		p.t.Fatalf("%s did not serve within 90s:\n%s", strings.Join(p.args, " "), p.logs)
	}
}

// run runs the process to its end and returns its exit code and output.
func (p *process) run() (int, string) {
	p.t.Helper()
	p.launch()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Minute):
		p.t.Fatalf("%s did not exit within 5 minutes:\n%s", strings.Join(p.args, " "), p.logs)
	}
	code := 0
	if p.err != nil {
		code = -1
		if ee, ok := p.err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return code, p.logs.String()
}

// terminate sends SIGTERM, waits for the exit and returns how long the
// graceful shutdown took. It fails the test unless the exit status is 0.
func (p *process) terminate(limit time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(limit):
		p.t.Fatalf("no exit within %s of SIGTERM:\n%s", limit, p.logs)
	}
	took := time.Since(start)
	if p.err != nil {
		p.t.Fatalf("exit after SIGTERM: %v, want status 0:\n%s", p.err, p.logs)
	}
	return took
}

// keygen writes a new Fernet key file, 0600, for replicas to share.
func keygen(t *testing.T, dir string) string {
	t.Helper()
	code, out := newProcess(t, "", nil, "keygen").run()
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, out)
	}
	path := filepath.Join(dir, "fernet.key")
	if err := os.WriteFile(path, []byte(strings.TrimSpace(out)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientWithToken is a client of the server at base with token.
func clientWithToken(base, token string) (*client.Client, error) {
	return client.New(base, token, nil)
}

// apiClient is a client of the server at base with the test's admin token.
func apiClient(t *testing.T, base string, hc *http.Client) *client.Client {
	t.Helper()
	c, err := client.New(base, testToken, hc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ready reports whether GET url/health/ready answers 200.
func ready(ctx context.Context, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// grepLines returns the lines of s that contain any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
