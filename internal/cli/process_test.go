package cli_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/app"
	"github.com/connecthub/connecthub/client"
)

// TestMain lets the test binary double as the connecthub program: the
// process tests re-execute it with CONNECTHUB_TEST_AS_MAIN=1, so they send
// real signals to a real process without building a second binary.
func TestMain(m *testing.M) {
	if os.Getenv("CONNECTHUB_TEST_AS_MAIN") == "1" {
		app.Main()
		return
	}
	os.Exit(m.Run())
}

// proc is a connecthub serve running as a child process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	client *client.Client
	exited chan error
	logs   *syncBuffer
}

var listenRe = regexp.MustCompile(`listen=(\S+)`)

func startProc(t *testing.T, dataDir string, env map[string]string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve")
	vars := map[string]string{
		"CONNECTHUB_TEST_AS_MAIN": "1",
		"CONNECTHUB_LISTEN":       "127.0.0.1:0",
		"CONNECTHUB_DATA_DIR":     dataDir,
		"CONNECTHUB_ADMIN_TOKEN":  testToken,
		"CONNECTHUB_TIMEZONE":     "UTC",
		"CONNECTHUB_LEASE_TTL":    "1s",
		"CONNECTHUB_HEARTBEAT":    "200ms",
		"PATH":                    os.Getenv("PATH"),
		"HOME":                    os.Getenv("HOME"),
	}
	for k, v := range env {
		vars[k] = v
	}
	seedMigrated(t, vars)
	for k, v := range vars {
		if v == "" {
			continue // an empty value unsets a default of the tests
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = dataDir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, exited: make(chan error, 1), logs: &syncBuffer{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			if m := listenRe.FindStringSubmatch(line); m != nil && !sent && strings.Contains(line, "connecthub serving") {
				addr <- m[1]
				sent = true
			}
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case err := <-p.exited:
		t.Fatalf("connecthub exited before listening: %v\n%s", err, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("connecthub did not start:\n%s", p.logs.String())
	}
	if p.client, err = client.New(p.url, testToken, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *proc) signal(sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// wait returns the exit code.
func (p *proc) wait() int {
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(60 * time.Second):
		p.t.Fatalf("connecthub did not exit:\n%s", p.logs.String())
		return -1
	}
}

func (p *proc) waitRun(id string, what string, cond func(*connecthub.Run) bool) *connecthub.Run {
	p.t.Helper()
	s := &server{t: p.t, client: p.client, logs: p.logs}
	return s.waitRun(id, what, cond)
}

func TestProcessSIGTERMLetsRunFinish(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startProc(t, dir, map[string]string{"CONNECTHUB_SHUTDOWN_TIMEOUT": "20s"})
	ctx := context.Background()
	if _, err := p.client.CreateJob(ctx, []byte(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":1.5}}`)); err != nil {
		t.Fatal(err)
	}
	r, err := p.client.RunJob(ctx, "nap")
	if err != nil {
		t.Fatal(err)
	}
	p.waitRun(r.ID, "RUNNING", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusRunning })
	p.signal(syscall.SIGTERM)
	// Readiness turns 503 while the run drains.
	waitFor(t, "ready to answer 503 draining", 10*time.Second, func() bool {
		resp, err := http.Get(p.url + "/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.logs.String())
	}
	p2 := startProc(t, dir, nil)
	got, err := p2.client.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != connecthub.StatusSuccess || got.Attempt != 1 {
		t.Fatalf("run after graceful stop: %s attempt %d", got.Status, got.Attempt)
	}
	p2.signal(syscall.SIGTERM)
	p2.wait()
}

func TestProcessSIGTERMHandsBackAndRerunsAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startProc(t, dir, map[string]string{"CONNECTHUB_SHUTDOWN_TIMEOUT": "200ms"})
	ctx := context.Background()
	if _, err := p.client.CreateJob(ctx, []byte(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":2}}`)); err != nil {
		t.Fatal(err)
	}
	r, err := p.client.RunJob(ctx, "nap")
	if err != nil {
		t.Fatal(err)
	}
	p.waitRun(r.ID, "RUNNING", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusRunning })
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.logs.String())
	}
	p2 := startProc(t, dir, nil)
	done := p2.waitRun(r.ID, "SUCCESS", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusSuccess })
	if done.Attempt != 1 {
		t.Errorf("hand-back consumed an attempt: attempt %d", done.Attempt)
	}
	p2.signal(syscall.SIGTERM)
	p2.wait()
}

func TestProcessKill9RunsAreRescued(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startProc(t, dir, nil)
	ctx := context.Background()
	for _, body := range []string{
		`{"id":"again","handler":"sleep","public_cfg":{"seconds":1},"max_attempts":2,"retry_backoff":"10ms"}`,
		`{"id":"once","handler":"sleep","public_cfg":{"seconds":30},"max_attempts":1}`,
	} {
		if _, err := p.client.CreateJob(ctx, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	again, err := p.client.RunJob(ctx, "again")
	if err != nil {
		t.Fatal(err)
	}
	once, err := p.client.RunJob(ctx, "once")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{again.ID, once.ID} {
		p.waitRun(id, "RUNNING", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusRunning })
	}
	p.signal(syscall.SIGKILL)
	p.wait()

	p2 := startProc(t, dir, nil)
	rescued := p2.waitRun(again.ID, "SUCCESS on attempt 2", func(r *connecthub.Run) bool {
		return r.Status == connecthub.StatusSuccess
	})
	if rescued.Attempt != 2 || len(rescued.Attempts) == 0 || !strings.Contains(rescued.Attempts[0].Error, connecthub.ReasonWorkerLost) {
		t.Errorf("rescued run: attempt %d history %+v", rescued.Attempt, rescued.Attempts)
	}
	lost := p2.waitRun(once.ID, "FAILURE", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusFailure })
	if !strings.Contains(lost.Error, connecthub.ReasonWorkerLost) {
		t.Errorf("lost run error = %q", lost.Error)
	}
	p2.signal(syscall.SIGTERM)
	if code := p2.wait(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
