package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/cli"
)

// The tests of issue 4's worker protocol, worker tokens and `connecthub
// worker`: real servers, workers in-process, as processes, in Python, and
// hand-driven protocol clients for the failure cases.

// remoteSays logs a line with its secret, to prove the log reaches the
// server from a remote worker and is masked there.
var remoteSays = handler.Spec{
	Name:       "test.remote",
	SecretKeys: []string{"password"},
	Func: func(_ context.Context, t *handler.Task) (*handler.Result, error) {
		t.Log.Info("remote says hello with " + t.Secret("password"))
		return &handler.Result{Message: "remote done", Data: map[string]any{"attempt": t.Attempt}}, nil
	},
}

// workerToken creates an API token with the worker scope, bound to node
// names that start with its name.
func (s *server) workerToken(name string) string {
	s.t.Helper()
	return s.workerTokenFor(name, "")
}

// workerTokenFor creates an API token with the worker scope, bound to node
// names that start with nodePrefix ("" = the token's name).
func (s *server) workerTokenFor(name, nodePrefix string) string {
	s.t.Helper()
	tok, err := s.client.CreateTokenWith(context.Background(), client.TokenRequest{Name: name, Scope: connecthub.ScopeWorker, NodePrefix: nodePrefix})
	if err != nil {
		s.t.Fatalf("create worker token: %v", err)
	}
	return tok.Secret
}

// waitNode waits until the registry lists the node in the present state.
func (s *server) waitNode(name, state string) connecthub.Node {
	s.t.Helper()
	var got connecthub.Node
	waitFor(s.t, "node "+name+" to be "+state, 30*time.Second, func() bool {
		nodes, err := s.client.ListNodes(context.Background())
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.Name == name && n.PresentState == state {
				got = n
				return true
			}
		}
		return false
	})
	return got
}

// remoteWorker is a `connecthub worker` run in-process.
type remoteWorker struct {
	t       *testing.T
	control string // the control port's address
	cancel  context.CancelFunc
	done    chan int
	logs    *syncBuffer
}

// workerEnv are the test defaults of a worker.
func workerEnv(t *testing.T, env map[string]string) map[string]string {
	vars := map[string]string{
		"CONNECTHUB_DATA_DIR":         t.TempDir(),
		"CONNECTHUB_TIMEZONE":         "UTC",
		"CONNECTHUB_HEARTBEAT":        "200ms",
		"CONNECTHUB_LOG_FORMAT":       "text",
		"CONNECTHUB_WORKERS":          "4",
		"CONNECTHUB_LOG_LEVEL":        "debug",
		"CONNECTHUB_SHUTDOWN_TIMEOUT": "10s",
	}
	for k, v := range env {
		vars[k] = v
	}
	return vars
}

// startWorker runs `connecthub worker` against url with the extra handlers
// and waits until it has registered and claims.
func startWorker(t *testing.T, url, token, name string, env map[string]string, extra ...handler.Spec) *remoteWorker {
	t.Helper()
	vars := workerEnv(t, env)
	reg := handler.NewRegistry()
	for _, s := range extra {
		if err := reg.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &remoteWorker{t: t, cancel: cancel, done: make(chan int, 1), logs: &syncBuffer{}}
	ready := make(chan string, 1)
	go func() {
		w.done <- cli.Run(ctx, cli.Env{
			Args:     []string{"worker", "--server", url, "--token", token, "--name", name},
			Getenv:   func(k string) string { return vars[k] },
			Stdout:   w.logs,
			Stderr:   w.logs,
			Registry: reg,
			DotEnv:   filepath.Join(vars["CONNECTHUB_DATA_DIR"], "none.env"),
			Ready:    func(addr string) { ready <- addr },
		})
	}()
	select {
	case w.control = <-ready:
	case code := <-w.done:
		t.Fatalf("worker exited with %d before it ran:\n%s", code, w.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("worker did not start:\n%s", w.logs.String())
	}
	t.Cleanup(func() { w.stop() })
	return w
}

// stop shuts the worker down gracefully and returns its exit code.
func (w *remoteWorker) stop() int {
	w.cancel()
	select {
	case code := <-w.done:
		w.done <- code
		return code
	case <-time.After(60 * time.Second):
		w.t.Errorf("worker did not stop:\n%s", w.logs.String())
		return -1
	}
}

// proc asks the control port.
func (w *remoteWorker) proc(action string) map[string]any {
	w.t.Helper()
	return procCall(w.t, w.control, action)
}

// procCall asks the proc API of a worker's control port at addr.
func procCall(t *testing.T, addr, action string) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/proc/" + action)
	if err != nil {
		t.Fatalf("proc %s: %v", action, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("proc %s: %v", action, err)
	}
	return out
}

func (w *remoteWorker) waitStatus(status string) {
	w.t.Helper()
	waitFor(w.t, "proc status "+status, 30*time.Second, func() bool { return w.proc("status")["status"] == status })
}

// TestWorkerRemoteRunsWithLog: two remote workers, a handler only they
// serve (the server accepts the job because a node serves it), every run
// done once, with its log (secrets masked) and result; proc status and
// proc stop/start on the control port.
func TestWorkerRemoteRunsWithLog(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_WORKERS": "0"})
	tok := s.workerTokenFor("workers", "w")
	w1 := startWorker(t, s.url, tok, "w1", nil, remoteSays)
	startWorker(t, s.url, tok, "w2", nil, remoteSays)
	n := s.waitNode("w1", connecthub.NodeActive)
	if n.Kind != connecthub.NodeKindWorker || n.MaxConcurrency != 4 || n.Endpoint != w1.control {
		t.Errorf("registered node: %+v (control %s)", n, w1.control)
	}
	s.waitNode("w2", connecthub.NodeActive)

	s.createJob(`{"id":"remote","handler":"test.remote","secret_cfg":{"password":"pa55-w0rd"},"concurrency":"allow"}`)
	var ids []string
	for range 6 {
		ids = append(ids, s.runNow("remote").ID)
	}
	for _, id := range ids {
		run := s.waitStatus(id, connecthub.StatusSuccess)
		if run.Attempt != 1 || (run.Node != "w1" && run.Node != "w2") || !strings.Contains(run.Message, "remote done") {
			t.Errorf("run %s: attempt %d node %q message %q", id, run.Attempt, run.Node, run.Message)
		}
		if string(run.Result) != `{"attempt":1}` {
			t.Errorf("run %s result = %s", id, run.Result)
		}
		log, _, err := s.client.RunLog(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log, "remote says hello with ******") || strings.Contains(log, "pa55-w0rd") {
			t.Errorf("run %s log (want the line, secret masked):\n%s", id, log)
		}
	}

	if st := w1.proc("status"); st["status"] != "RUNNING" || st["max"] != 4.0 || st["name"] != "w1" {
		t.Errorf("proc status = %v", st)
	}
	if st := w1.proc("stop"); st["status"] != "ABORT" || st["paused"] != true {
		t.Errorf("proc stop = %v", st)
	}
	if st := w1.proc("start"); st["status"] != "RUNNING" {
		t.Errorf("proc start = %v", st)
	}
	for _, path := range []string{"/health/live", "/health/ready", "/metrics"} {
		resp, err := http.Get("http://" + w1.control + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
		}
	}
	if code := w1.stop(); code != 0 {
		t.Errorf("worker exit code %d", code)
	}
	// prestop removed it from the registry.
	if _, ok := s.node("w1"); ok {
		t.Error("a stopped worker is still registered")
	}
}

// TestWorkerPythonExample runs examples/python-worker/worker.py against a
// real server: it registers py.echo, runs it, logs (masked on the server:
// the example logs the secret's value through its message), retries and
// shuts down on SIGTERM.
func TestWorkerPythonExample(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "examples", "python-worker", "worker.py")
	s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_WORKERS": "0"})
	tok := s.workerTokenFor("python", "py-")

	cmd := exec.Command(python, script, "--server", s.url, "--name", "py-e2e", "--heartbeat", "0.2")
	cmd.Env = append(os.Environ(), "CONNECTHUB_WORKER_TOKEN="+tok, "PYTHONDONTWRITEBYTECODE=1")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	s.waitNode("py-e2e", connecthub.NodeActive)

	s.createJob(`{"id":"py","handler":"py.echo","public_cfg":{"message":"s3cret-value","lines":2},"secret_cfg":{"token":"s3cret-value"}}`)
	run := s.waitStatus(s.runNow("py").ID, connecthub.StatusSuccess)
	var result struct {
		Echo    map[string]any `json:"echo"`
		Attempt int            `json:"attempt"`
	}
	if err := json.Unmarshal(run.Result, &result); err != nil || result.Attempt != 1 || result.Echo["lines"] != 2.0 || run.Node != "py-e2e" ||
		run.Message != "echoed\n\nWarnings (1):\nthis line is summarised in the run's message" {
		t.Errorf("run: node %q message %q result %s\n%s", run.Node, run.Message, run.Result, logs.String())
	}
	log, _, err := s.client.RunLog(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hello from python: ******", "line 1", "line 2", "secret keys: token"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "s3cret-value") {
		t.Errorf("the secret reached the log:\n%s", log)
	}

	// A failing handler is retried by the server's back-off, then fails.
	s.createJob(`{"id":"py.fail","handler":"py.echo","public_cfg":{"fail":true},"max_attempts":2,"retry_backoff":"50ms"}`)
	failed := s.waitStatus(s.runNow("py.fail").ID, connecthub.StatusFailure)
	if failed.Attempt != 2 || len(failed.Attempts) != 1 || !strings.Contains(failed.Error, "asked to fail (attempt 2)") || !strings.Contains(failed.Traceback, "RuntimeError") {
		t.Errorf("failed run: attempt %d history %+v error %q traceback %q", failed.Attempt, failed.Attempts, failed.Error, failed.Traceback)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("python worker exit: %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("python worker did not stop:\n%s", logs.String())
	}
	if _, ok := s.node("py-e2e"); ok {
		t.Error("the python worker is still registered after SIGTERM (prestop)")
	}
}

// workerProc is `connecthub worker` as a child process (the test binary
// re-executed, see TestMain), for signals.
type workerProc struct {
	t       *testing.T
	control string // the control port's address
	cmd     *exec.Cmd
	exited  chan error
	logs    *syncBuffer
}

var workerRunningRe = regexp.MustCompile(`connecthub worker running.*control=(\S+)`)

func startWorkerProc(t *testing.T, url, token, name string, env map[string]string) *workerProc {
	t.Helper()
	vars := workerEnv(t, env)
	vars["CONNECTHUB_TEST_AS_MAIN"] = "1"
	vars["PATH"], vars["HOME"] = os.Getenv("PATH"), os.Getenv("HOME")
	cmd := exec.Command(os.Args[0], "worker", "--server", url, "--token", token, "--name", name)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = vars["CONNECTHUB_DATA_DIR"]
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &workerProc{t: t, cmd: cmd, exited: make(chan error, 1), logs: &syncBuffer{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			if m := workerRunningRe.FindStringSubmatch(line); !once && m != nil {
				once = true
				p.control = m[1]
				close(running)
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
	case <-running:
	case err := <-p.exited:
		t.Fatalf("worker exited before it ran: %v\n%s", err, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("worker did not start:\n%s", p.logs.String())
	}
	return p
}

func (p *workerProc) wait() int {
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(60 * time.Second):
		p.t.Fatalf("worker did not exit:\n%s", p.logs.String())
		return -1
	}
}

// TestWorkerProcessKill9RunRescuedByDeadDetection: a worker killed with
// SIGKILL mid-run is declared dead after NODE_DEAD_AFTER and its run is
// re-queued at once (the lease is far longer), then runs on another
// worker.
func TestWorkerProcessKill9RunRescuedByDeadDetection(t *testing.T) {
	t.Parallel()
	const deadAfter = 2 * time.Second
	s := startServer(t, t.TempDir(), map[string]string{
		"CONNECTHUB_WORKERS":         "0",
		"CONNECTHUB_LEASE_TTL":       "60s", // a rescue by lease expiry would take a minute
		"CONNECTHUB_NODE_DEAD_AFTER": deadAfter.String(),
	})
	tok := s.workerTokenFor("procs", "victim")
	victim := startWorkerProc(t, s.url, tok, "victim", nil)
	s.waitNode("victim", connecthub.NodeActive)
	s.createJob(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":2},"max_attempts":2,"retry_backoff":"10ms"}`)
	id := s.runNow("nap").ID
	s.waitRun(id, "RUNNING on victim", func(r *connecthub.Run) bool {
		return r.Status == connecthub.StatusRunning && r.Node == "victim"
	})
	// RUNNING on the server is not yet held by the victim: until the claim's
	// answer reaches it, a kill makes the server hand the run back (same
	// attempt), as it does for any client that goes away during its claim.
	// The rescue this test is about is of a run the victim executes.
	waitFor(t, "the victim to execute the run", 30*time.Second, func() bool {
		return procCall(t, victim.control, "status")["running"] == 1.0
	})
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.wait()
	killed := time.Now()
	rescued := s.waitRun(id, "re-queued", func(r *connecthub.Run) bool { return r.Attempt == 2 })
	// Dead after deadAfter, noticed within one reaper period (deadAfter/3)
	// of that, plus the victim's last heartbeat interval; the rest is slack
	// for a loaded machine, still far below the 60s lease.
	if took := time.Since(killed); took > deadAfter+10*time.Second {
		t.Errorf("rescued %s after the kill; want about %s", took, deadAfter)
	}
	if len(rescued.Attempts) != 1 || rescued.Attempts[0].Node != "victim" || !strings.Contains(rescued.Attempts[0].Error, connecthub.ReasonWorkerLost) {
		t.Errorf("rescued run history: %+v", rescued.Attempts)
	}
	startWorker(t, s.url, s.workerTokenFor("heirs", "heir"), "heir", nil)
	done := s.waitStatus(id, connecthub.StatusSuccess)
	if done.Node != "heir" || done.Attempt != 2 {
		t.Errorf("run after rescue: node %q attempt %d", done.Node, done.Attempt)
	}
}

// TestWorkerProcessSIGTERM: SIGTERM lets the run in flight finish, then
// the worker deregisters and exits 0; with a short shutdown timeout the
// run is handed back without consuming an attempt.
func TestWorkerProcessSIGTERM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		timeout  string
		wantDone connecthub.RunStatus
	}{
		{"finishes in flight", "20s", connecthub.StatusSuccess},
		{"hands back after the timeout", "200ms", connecthub.StatusQueued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_WORKERS": "0"})
			tok := s.workerTokenFor("procs", "graceful")
			p := startWorkerProc(t, s.url, tok, "graceful", map[string]string{"CONNECTHUB_SHUTDOWN_TIMEOUT": tt.timeout})
			s.createJob(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":1.5}}`)
			id := s.runNow("nap").ID
			s.waitRun(id, "RUNNING", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusRunning })
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(); code != 0 {
				t.Fatalf("exit code %d\n%s", code, p.logs.String())
			}
			run, err := s.client.GetRun(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != tt.wantDone || run.Attempt != 1 {
				t.Errorf("run after SIGTERM: %s attempt %d, want %s attempt 1\n%s", run.Status, run.Attempt, tt.wantDone, p.logs.String())
			}
			if _, ok := s.node("graceful"); ok {
				t.Error("the worker is still registered after SIGTERM")
			}
		})
	}
}

// TestWorkerStalledLeaseLostLateCompleteRefused: a worker that claims and
// goes silent loses its lease; another worker runs the new attempt; the
// stalled worker's late heartbeat, log and complete are refused with 409
// and change nothing. The new holder's complete is idempotent.
func TestWorkerStalledLeaseLostLateCompleteRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), map[string]string{
		"CONNECTHUB_WORKERS":         "0",
		"CONNECTHUB_LEASE_TTL":       "1s",
		"CONNECTHUB_NODE_DEAD_AFTER": "1m", // the lease, not dead detection, rescues here
	})
	tok := s.workerTokenFor("protocol", "proto-")
	c, err := client.New(s.url, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reg := func(name string) {
		if _, err := c.Register(ctx, client.RegisterRequest{Name: name, Queues: []string{"default"},
			Handlers: []connecthub.NodeHandler{{Name: "noop"}}, MaxConcurrency: 1}); err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
	}
	claim := func(name string) client.ClaimedRun {
		t.Helper()
		resp, err := c.Claim(ctx, client.ClaimRequest{Name: name, Max: 1, Wait: connecthub.Duration(10 * time.Second)})
		if err != nil || len(resp.Runs) != 1 {
			t.Fatalf("claim as %s: %+v, %v", name, resp, err)
		}
		if resp.LeaseTTL.D() != time.Second || resp.Heartbeat.D() != 200*time.Millisecond {
			t.Errorf("claim timing: lease %s heartbeat %s", resp.LeaseTTL, resp.Heartbeat)
		}
		return resp.Runs[0]
	}
	reg("proto-stalled")
	reg("proto-fresh")
	s.createJob(`{"id":"once","handler":"noop","max_attempts":2,"secret_cfg":{"k":"v-secret"}}`)
	id := s.runNow("once").ID

	old := claim("proto-stalled")
	if old.ID != id || old.Attempt != 1 || old.Secrets["k"] != "v-secret" || old.Handler != "noop" {
		t.Fatalf("claimed %+v", old)
	}
	if _, err := c.HeartbeatRun(ctx, id, client.RunHeartbeatRequest{Name: "proto-stalled", Attempt: 1}); err != nil {
		t.Fatalf("heartbeat while holding: %v", err)
	}
	// Silence: the lease expires and the rescuer re-queues the run.
	s.waitRun(id, "rescued", func(r *connecthub.Run) bool { return r.Attempt == 2 && r.Status == connecthub.StatusQueued })

	cur := claim("proto-fresh")
	if cur.ID != id || cur.Attempt != 2 {
		t.Fatalf("re-claimed %+v", cur)
	}
	// The new holder heartbeats, as a worker does, until its outcome is
	// recorded: a loaded machine may take longer than the 1s lease to send
	// the log and the complete, and this test is not about that lease.
	stopBeats := make(chan struct{})
	beatsDone := make(chan struct{})
	go func() {
		defer close(beatsDone)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopBeats:
				return
			case <-tick.C:
				_, _ = c.HeartbeatRun(ctx, id, client.RunHeartbeatRequest{Name: "proto-fresh", Attempt: 2})
			}
		}
	}()
	stopHeartbeats := func() {
		if stopBeats != nil {
			close(stopBeats)
			<-beatsDone
			stopBeats = nil
		}
	}
	defer stopHeartbeats()
	if err := c.AppendRunLog(ctx, id, client.LogRequest{Name: "proto-fresh", Attempt: 2, Lines: []string{"fresh line v-secret"}}); err != nil {
		t.Fatal(err)
	}
	done, err := c.CompleteRun(ctx, id, client.CompleteRequest{Name: "proto-fresh", Attempt: 2, Status: client.CompleteSuccess, Message: "fresh done", Result: json.RawMessage(`{"ok":true}`)})
	if err != nil || done.Status != connecthub.StatusSuccess || done.Node != "proto-fresh" {
		t.Fatalf("complete: %+v, %v", done, err)
	}
	stopHeartbeats()
	again, err := c.CompleteRun(ctx, id, client.CompleteRequest{Name: "proto-fresh", Attempt: 2, Status: client.CompleteSuccess, Message: "fresh done", Result: json.RawMessage(`{"ok":true}`)})
	if err != nil || again.Status != connecthub.StatusSuccess || again.FinishedAt == nil || !again.FinishedAt.Equal(*done.FinishedAt) {
		t.Errorf("a repeated complete must answer the same run: %+v, %v", again, err)
	}

	// The stalled worker wakes up.
	for name, call := range map[string]func() error{
		"heartbeat": func() error {
			_, err := c.HeartbeatRun(ctx, id, client.RunHeartbeatRequest{Name: "proto-stalled", Attempt: 1})
			return err
		},
		"log": func() error {
			return c.AppendRunLog(ctx, id, client.LogRequest{Name: "proto-stalled", Attempt: 1, Chunk: "stale line\n"})
		},
		"complete": func() error {
			_, err := c.CompleteRun(ctx, id, client.CompleteRequest{Name: "proto-stalled", Attempt: 1, Status: client.CompleteFailure, Error: "late"})
			return err
		},
	} {
		if err := call(); client.StatusOf(err) != http.StatusConflict || client.CodeOf(err) != "lease_lost" {
			t.Errorf("late %s: %v, want 409 lease_lost", name, err)
		}
	}
	batch, err := c.Heartbeat(ctx, client.HeartbeatRequest{Name: "proto-stalled", Runs: []client.RunRef{{ID: id, Attempt: 1}}})
	if err != nil || len(batch.Runs) != 1 || !batch.Runs[0].Lost {
		t.Errorf("late batch heartbeat: %+v, %v", batch, err)
	}
	final := s.waitStatus(id, connecthub.StatusSuccess)
	if final.Node != "proto-fresh" || final.Message != "fresh done" || final.Error != "" || string(final.Result) != `{"ok":true}` {
		t.Errorf("the late complete overwrote the run: %+v", final)
	}
	log, _, err := s.client.RunLog(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if log != "fresh line ******\n" {
		t.Errorf("log = %q, want only the fresh attempt's line, masked", log)
	}
}

// startRestartable starts a server with env; restart starts it again, once
// it was stopped, on the same data directory and address, as an outage of
// the server would end.
func startRestartable(t *testing.T, env map[string]string) (*server, func() *server) {
	t.Helper()
	dir := t.TempDir()
	s := startServer(t, dir, env)
	return s, func() *server {
		t.Helper()
		env["CONNECTHUB_LISTEN"] = strings.TrimPrefix(s.url, "http://")
		return startServer(t, dir, env)
	}
}

// TestWorkerSurvivesServerRestart: stopping the server while a worker runs
// a job loses nothing: the worker keeps the run going, reports ERROR,
// retries its complete, and the restarted server (same data, same port)
// records it.
func TestWorkerSurvivesServerRestart(t *testing.T) {
	t.Parallel()
	s, restart := startRestartable(t, map[string]string{
		"CONNECTHUB_WORKERS":         "0",
		"CONNECTHUB_LEASE_TTL":       "60s", // the outage must not look like a dead worker
		"CONNECTHUB_NODE_DEAD_AFTER": "60s",
	})
	tok := s.workerToken("survivor")
	w := startWorker(t, s.url, tok, "survivor", nil)
	s.createJob(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":2}}`)
	id := s.runNow("nap").ID
	s.waitRun(id, "RUNNING", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusRunning && r.Node == "survivor" })

	if code := s.stop(); code != 0 {
		t.Fatalf("server exit %d", code)
	}
	w.waitStatus("ERROR")
	// The run ends while the server is away; its outcome waits in the
	// worker, retried with back-off.
	waitFor(t, "the run to finish in the worker", 30*time.Second, func() bool {
		return w.proc("status")["running"] == 0.0 || strings.Contains(w.logs.String(), "recording run outcomes failed")
	})

	s2 := restart()
	run := s2.waitStatus(id, connecthub.StatusSuccess)
	if run.Attempt != 1 || run.Node != "survivor" {
		t.Errorf("run after the outage: attempt %d node %q", run.Attempt, run.Node)
	}
	w.waitStatus("RUNNING")
	// And it claims new work from the restarted server.
	next := s2.waitStatus(s2.runNow("nap").ID, connecthub.StatusSuccess)
	if next.Node != "survivor" {
		t.Errorf("new run on %q", next.Node)
	}
}

// TestWorkerResumesClaimingAfterServerOutage: a worker whose claims failed
// long enough to back off for 16s claims again within moments of the
// server coming back, not when that back-off ends: it probes the server
// with keepalives while it backs off.
func TestWorkerResumesClaimingAfterServerOutage(t *testing.T) {
	t.Parallel()
	s, restart := startRestartable(t, map[string]string{
		"CONNECTHUB_WORKERS":         "0",
		"CONNECTHUB_NODE_DEAD_AFTER": "5m", // the outage must not look like a dead worker
	})
	w := startWorker(t, s.url, s.workerToken("patient"), "patient", nil)
	if code := s.stop(); code != 0 {
		t.Fatalf("server exit %d", code)
	}
	// Back-offs of 1, 2, 4, 8 and 16s: the worker now waits 16s before it
	// would claim again on its own.
	waitFor(t, "the claim back-off to reach 16s", 60*time.Second, func() bool {
		return strings.Contains(w.logs.String(), "retry_in=16s")
	})

	s2 := restart()
	s2.createJob(`{"id":"quick","handler":"noop"}`)
	back := time.Now()
	id := s2.runNow("quick").ID
	run := s2.waitStatus(id, connecthub.StatusSuccess)
	// About a second is expected; the bound is loose for a loaded machine
	// but well below what was left of the back-off.
	if took := time.Since(back); took > 8*time.Second || run.Node != "patient" {
		t.Errorf("run on %q done %s after the server came back; want it on the worker within seconds", run.Node, took)
	}
}

// TestWorkerTokenScopes: a worker token may call only the worker protocol;
// admin endpoints answer 403; revoked and unknown tokens 401; an admin-scope
// token works everywhere. Tokens are managed with the CLI.
func TestWorkerTokenScopes(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	code, workerTok, errOut := runCLI(t, env, "", "token", "create", "--name", "w-scope")
	workerTok = strings.TrimSpace(workerTok)
	if code != 0 || !strings.HasPrefix(workerTok, "chw_") || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("token create: %d %q %q", code, workerTok, errOut)
	}
	code, adminTok, _ := runCLI(t, env, "", "token", "create", "--name", "a-scope", "--scope", "admin")
	adminTok = strings.TrimSpace(adminTok)
	if code != 0 || !strings.HasPrefix(adminTok, "cha_") {
		t.Fatalf("admin token create: %d %q", code, adminTok)
	}
	if code, _, errOut := runCLI(t, env, "", "token", "create", "--name", "w-scope"); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("duplicate token name: exit %d %q", code, errOut)
	}
	s.createJob(`{"id":"secretive","handler":"noop","secret_cfg":{"k":"v-leak"}}`)
	runID := s.runNow("secretive").ID

	tests := []struct {
		token, method, path, body string
		want                      int
	}{
		{workerTok, "GET", "/api/v1/jobs", "", http.StatusForbidden},
		{workerTok, "POST", "/api/v1/jobs", `{"id":"x","handler":"noop"}`, http.StatusForbidden},
		{workerTok, "GET", "/api/v1/jobs/secretive", "", http.StatusForbidden},
		{workerTok, "GET", "/api/v1/runs", "", http.StatusForbidden},
		{workerTok, "GET", "/api/v1/runs/" + runID, "", http.StatusForbidden},
		{workerTok, "GET", "/api/v1/runs/" + runID + "/log", "", http.StatusForbidden},
		{workerTok, "POST", "/api/v1/runs/" + runID + "/retry", "", http.StatusForbidden},
		{workerTok, "GET", "/api/v1/tokens", "", http.StatusForbidden},
		{workerTok, "POST", "/api/v1/tokens", `{"name":"escalate","scope":"admin"}`, http.StatusForbidden},
		{workerTok, "GET", "/api/v1/nodes", "", http.StatusForbidden},
		{workerTok, "POST", "/api/v1/worker/keepalive", `{"name":"w-scope-nobody","running":0}`, http.StatusNotFound},
		{workerTok, "POST", "/api/v1/worker/keepalive", `{"name":"nobody","running":0}`, http.StatusForbidden},
		{"chw_not-a-real-token", "GET", "/api/v1/jobs", "", http.StatusUnauthorized},
		{"chw_not-a-real-token", "POST", "/api/v1/worker/keepalive", `{"name":"nobody"}`, http.StatusUnauthorized},
		{adminTok, "GET", "/api/v1/jobs", "", http.StatusOK},
		{adminTok, "GET", "/api/v1/tokens", "", http.StatusOK},
		{adminTok, "POST", "/api/v1/worker/keepalive", `{"name":"nobody"}`, http.StatusNotFound},
	}
	for _, tt := range tests {
		status, body := s.do(tt.method, tt.path, tt.body, "Authorization", "Bearer "+tt.token)
		if status != tt.want {
			t.Errorf("%s %s with %.8s…: %d %s, want %d", tt.method, tt.path, tt.token, status, body, tt.want)
			continue
		}
		if status >= 400 && !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: error body not JSON: %s", tt.method, tt.path, body)
		}
		if strings.Contains(body, "v-leak") || strings.Contains(body, workerTok) {
			t.Errorf("%s %s leaked a secret: %s", tt.method, tt.path, body)
		}
	}

	code, list, _ := runCLI(t, env, "", "token", "list")
	if code != 0 || !strings.Contains(list, "w-scope") || !strings.Contains(list, "a-scope") || strings.Contains(list, workerTok) || strings.Contains(list, adminTok) {
		t.Errorf("token list: %d\n%s", code, list)
	}
	code, listJSON, _ := runCLI(t, env, "", "token", "list", "--json")
	if code != 0 || strings.Contains(listJSON, "chw_") || strings.Contains(listJSON, "hash") {
		t.Errorf("token list --json shows secrets or hashes:\n%s", listJSON)
	}
	if code, _, errOut := runCLI(t, env, "", "token", "revoke", "w-scope"); code != 0 {
		t.Fatalf("revoke: %s", errOut)
	}
	if status, body := s.do("POST", "/api/v1/worker/keepalive", `{"name":"nobody"}`, "Authorization", "Bearer "+workerTok); status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d %s", status, body)
	}
	if code, _, errOut := runCLI(t, env, "", "token", "revoke", "no-such-token"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("revoke unknown: exit %d %q", code, errOut)
	}
}

// TestWorkerProtocolMalformedBodies: every malformed body is a 400 with a
// JSON error naming the problem, never a 500.
func TestWorkerProtocolMalformedBodies(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	const reg = `{"name":"mal","queues":["default"],"handlers":[{"name":"noop"}],"max_concurrency":1}`
	if status, body := s.do("POST", "/api/v1/worker/register", reg); status != http.StatusOK {
		t.Fatalf("register: %d %s", status, body)
	}
	s.createJob(`{"id":"m","handler":"noop"}`)
	runID := s.runNow("m").ID
	tests := []struct {
		path, body, field string
	}{
		{"/register", ``, ""},
		{"/register", `{`, ""},
		{"/register", `[]`, ""},
		{"/register", `null`, "name"},
		{"/register", `{"name":"bad name","queues":["default"],"handlers":[{"name":"noop"}]}`, "name"},
		{"/register", `{"name":"n","queues":[],"handlers":[{"name":"noop"}]}`, "queues"},
		{"/register", `{"name":"n","queues":["default"],"handlers":[]}`, "handlers"},
		{"/register", `{"name":"n","queues":"default","handlers":[{"name":"noop"}]}`, "queues"},
		{"/register", `{"name":"n","queues":["default"],"handlers":[{"name":"noop","config_schema":[1]}]}`, "handlers[0].config_schema"},
		{"/register", `{"name":"n","queues":["default"],"handlers":[{"name":"noop"}],"max_concurrency":-1}`, "max_concurrency"},
		{"/register", `{"name":"n","queues":["default"],"handlers":[{"name":"noop"}],"max_concurrency":"many"}`, "max_concurrency"},
		{"/keepalive", `{}`, "name"},
		{"/keepalive", `{"name":"mal","state":"inactive"}`, "state"},
		{"/keepalive", `{"name":"mal","state":"dancing"}`, "state"},
		{"/keepalive", `{"name":"mal","running":-1}`, "running"},
		{"/keepalive", `{"name":"mal","running":"3"}`, "running"},
		{"/prestop", `{"name":42}`, "name"},
		{"/claim", `{"name":"mal"}`, "max"},
		{"/claim", `{"name":"mal","max":0}`, "max"},
		{"/claim", `{"name":"mal","max":1001}`, "max"},
		{"/claim", `{"name":"mal","max":1,"wait":"forever"}`, "wait"},
		{"/claim", `{"name":"mal","max":1,"wait":"31s"}`, "wait"},
		{"/claim", `{"name":"mal","max":1,"wait":"-1s"}`, "wait"},
		{"/claim", `{"name":"mal","max":1,"wait":true}`, "wait"},
		{"/heartbeat", `{"name":"mal","runs":[{"id":""}]}`, "runs"},
		{"/heartbeat", `{"name":"mal","runs":[{"id":"` + runID + `","attempt":0}]}`, "runs"},
		{"/heartbeat", `{"name":"mal","runs":{"id":"x"}}`, "runs"},
		{"/runs/" + runID + "/heartbeat", `{"name":"mal"}`, "attempt"},
		{"/runs/" + runID + "/heartbeat", `{"name":"mal","attempt":"one"}`, "attempt"},
		{"/runs/" + runID + "/log", `{"name":"mal","attempt":1}`, "lines"},
		{"/runs/" + runID + "/log", `{"name":"mal","attempt":1,"lines":["a"],"chunk":"b"}`, "lines"},
		{"/runs/" + runID + "/log", `{"name":"mal","attempt":1,"lines":"a"}`, "lines"},
		{"/runs/" + runID + "/log", `{"name":"mal","attempt":1,"lines":[1,2]}`, "lines"},
		{"/runs/" + runID + "/complete", `{"name":"mal","attempt":1,"status":"DONE"}`, "status"},
		{"/runs/" + runID + "/complete", `{"name":"mal","status":"SUCCESS"}`, "attempt"},
		{"/runs/" + runID + "/complete", `{"name":"mal","attempt":1,"status":"SUCCESS","result":}`, ""},
		{"/runs/" + runID + "/complete", `{"name":"mal","attempt":1,"status":"SUCCESS","message":["x"]}`, "message"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.body, func(t *testing.T) {
			status, body := s.do("POST", "/api/v1/worker"+tt.path, tt.body)
			var e struct {
				Error struct{ Code, Message, Field string } `json:"error"`
			}
			if status != http.StatusBadRequest || jsonUnmarshal(body, &e) != nil || e.Error.Message == "" || e.Error.Field != tt.field {
				t.Errorf("POST %s %s = %d %s; want 400 with field %q", tt.path, tt.body, status, body, tt.field)
			}
		})
	}
	// Well-formed requests about things that do not exist are not 400s.
	for _, tt := range []struct {
		path, body string
		want       int
	}{
		{"/claim", `{"name":"ghost","max":1}`, http.StatusNotFound},
		{"/keepalive", `{"name":"ghost"}`, http.StatusNotFound},
		{"/runs/no-such-run/complete", `{"name":"mal","attempt":1,"status":"SUCCESS"}`, http.StatusNotFound},
		{"/runs/no-such-run/log", `{"name":"mal","attempt":1,"chunk":"x"}`, http.StatusNotFound},
		{"/runs/" + runID + "/complete", `{"name":"other","attempt":1,"status":"SUCCESS"}`, http.StatusConflict},
	} {
		if status, body := s.do("POST", "/api/v1/worker"+tt.path, tt.body); status != tt.want {
			t.Errorf("POST %s %s = %d %s, want %d", tt.path, tt.body, status, body, tt.want)
		}
	}
}

// TestWorkerClaimLongPoll: a waiting claim answers as soon as a run is
// enqueued, not when its wait ends; a claim whose client went away claims
// nothing for it.
func TestWorkerClaimLongPoll(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_WORKERS": "0"})
	c, err := client.New(s.url, s.workerToken("poller"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"poller", "poller-quitter"} {
		if _, err := c.Register(ctx, client.RegisterRequest{Name: name, Queues: []string{"default"},
			Handlers: []connecthub.NodeHandler{{Name: "noop"}}, MaxConcurrency: 1}); err != nil {
			t.Fatal(err)
		}
	}
	s.createJob(`{"id":"poll","handler":"noop","concurrency":"allow"}`)

	// The quitter gives up on its poll: the run enqueued next is not its.
	qctx, cancel := context.WithCancel(ctx)
	quit := make(chan error, 1)
	go func() {
		_, err := c.Claim(qctx, client.ClaimRequest{Name: "poller-quitter", Max: 1, Wait: connecthub.Duration(30 * time.Second)})
		quit <- err
	}()
	cancel()
	if err := <-quit; err == nil {
		t.Fatal("a cancelled claim returned no error")
	}

	type answer struct {
		resp *client.ClaimResponse
		err  error
		took time.Duration
	}
	got := make(chan answer, 1)
	go func() {
		start := time.Now()
		resp, err := c.Claim(ctx, client.ClaimRequest{Name: "poller", Max: 5, Wait: connecthub.Duration(30 * time.Second)})
		got <- answer{resp, err, time.Since(start)}
	}()
	id := s.runNow("poll").ID
	a := <-got
	if a.err != nil || len(a.resp.Runs) != 1 || a.resp.Runs[0].ID != id {
		t.Fatalf("long poll: %+v, %v", a.resp, a.err)
	}
	if a.took > 15*time.Second {
		t.Errorf("the long poll answered after %s: it waited instead of waking on the new run", a.took)
	}
	run, err := s.client.GetRun(ctx, id)
	if err != nil || run.Node != "poller" || run.Status != connecthub.StatusRunning {
		t.Errorf("claimed run: %+v, %v", run, err)
	}
	// An empty poll with a short wait answers with no runs after it.
	start := time.Now()
	resp, err := c.Claim(ctx, client.ClaimRequest{Name: "poller", Max: 1, Wait: connecthub.Duration(300 * time.Millisecond)})
	if err != nil || len(resp.Runs) != 0 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("empty poll: %+v, %v after %s", resp, err, time.Since(start))
	}
}
