package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// The Python worker (sdk/python, connecthub-worker) end to end: a real
// serve on SQLite, a worker token bound to a node prefix, and the worker as
// a child process serving an old-style extensions/ tree with
// --legacy-path, as a team moving from the Python ConnectHub runs it.

// legacyJobs is an extensions/ tree as the Python ConnectHub's teams write
// it: BaseJob subclasses that log through logging, warn, read a secret and
// return a dict, raise, log a lot at the same time, or take a while.
const legacyJobs = `
import logging
import threading
import time
import warnings

from app.jobs.base import BaseJob

log = logging.getLogger(__name__)
CHATTY = threading.Barrier(2, timeout=30)


class MyJob(BaseJob):
    def run(self, params, secrets):
        log.info("syncing %s", params["what"])
        warnings.warn("old API in use")
        log.info("logging in with %s", secrets["token"])
        return {"synced": params["n"], "token_chars": len(secrets["token"])}


class Boom(BaseJob):
    def run(self, params, secrets):
        log.error("about to fail")
        raise ValueError("bad data in row %d" % params["row"])


class Chatty(BaseJob):
    def run(self, params, secrets):
        CHATTY.wait()
        for i in range(60):
            log.info("%s line %d", params["me"], i)
            if i % 10 == 0:
                CHATTY.wait()
        return params["me"] + " done"


class Nap(BaseJob):
    def run(self, params, secrets):
        log.info("napping %s s", params["seconds"])
        time.sleep(params["seconds"])
        return "slept"
`

// pyWorker is connecthub-worker as a child process.
type pyWorker struct {
	cmd    *exec.Cmd
	exited chan error
	logs   *syncBuffer
}

// startPyWorker runs `python3 -m connecthub_worker` from the source tree
// with args and the token.
func startPyWorker(t *testing.T, python, token string, args ...string) *pyWorker {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	sdk := filepath.Join(filepath.Dir(file), "..", "..", "sdk", "python")
	cmd := exec.Command(python, append([]string{"-m", "connecthub_worker"}, args...)...)
	cmd.Env = append(os.Environ(), "CONNECTHUB_WORKER_TOKEN="+token, "PYTHONPATH="+sdk, "PYTHONDONTWRITEBYTECODE=1")
	w := &pyWorker{cmd: cmd, exited: make(chan error, 1), logs: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = w.logs, w.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-w.exited
		}
	})
	return w
}

// wait waits for the worker to exit and returns its exit code.
func (w *pyWorker) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-w.exited:
		return w.cmd.ProcessState.ExitCode()
	case <-time.After(60 * time.Second):
		t.Fatalf("the python worker did not exit:\n%s", w.logs.String())
		return -1
	}
}

func lookPython(t *testing.T) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CONNECTHUB_TEST_STRICT") == "1" {
			t.Fatal("python3 is not installed (CONNECTHUB_TEST_STRICT=1)")
		}
		t.Skip("python3 is not installed")
	}
	return python
}

func TestPythonWorkerLegacyPath(t *testing.T) {
	t.Parallel()
	python := lookPython(t)
	old := t.TempDir()
	for path, text := range map[string]string{
		"extensions/__init__.py":   "",
		"extensions/x/__init__.py": "",
		"extensions/x/job.py":      legacyJobs,
	} {
		if err := os.MkdirAll(filepath.Join(old, filepath.Dir(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(old, path), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_WORKERS": "0"})
	tok := s.workerTokenFor("legacy", "py-legacy")

	// A node name outside the token's prefix is refused with a message
	// that says what to do.
	stranger := startPyWorker(t, python, tok, "--server", s.url, "--name", "elsewhere-1", "--legacy-path", old)
	if code := stranger.wait(t); code != 2 || !strings.Contains(stranger.logs.String(), "node name 'elsewhere-1' is not allowed for this worker token") {
		t.Errorf("a worker outside the token's node prefix: exit %d\n%s", code, stranger.logs.String())
	}

	w := startPyWorker(t, python, tok, "--server", s.url, "--name", "py-legacy-1", "--legacy-path", old,
		"--heartbeat", "0.2", "--shutdown-timeout", "3", "--concurrency", "4")
	s.waitNode("py-legacy-1", connecthub.NodeActive)

	// The handler path in both of the seed's forms, created through the
	// API with a secret: SUCCESS, the job's logging in the run log, the
	// secret masked, the warning summarised in the message.
	const secret = "s3cret-token-value"
	for id, h := range map[string]string{"legacy.colon": "py:extensions.x.job:MyJob", "legacy.dotted": "py:extensions.x.job.MyJob"} {
		s.createJob(mustJSON(map[string]any{"id": id, "handler": h,
			"public_cfg": map[string]any{"what": "invoices", "n": 3}, "secret_cfg": map[string]any{"token": secret}}))
		run := s.waitStatus(s.runNow(id).ID, connecthub.StatusSuccess)
		var result map[string]any
		if err := json.Unmarshal(run.Result, &result); err != nil || result["synced"] != 3.0 || result["token_chars"] != float64(len(secret)) {
			t.Errorf("%s: result %s (%v)", h, run.Result, err)
		}
		if run.Node != "py-legacy-1" || !strings.HasPrefix(run.Message, "Warnings (1):\n") || !strings.Contains(run.Message, "UserWarning: old API in use") {
			t.Errorf("%s: node %q message %q", h, run.Node, run.Message)
		}
		log, _, err := s.client.RunLog(context.Background(), run.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"INFO extensions.x.job: syncing invoices", "WARNING py.warnings: ", "INFO extensions.x.job: logging in with ******"} {
			if !strings.Contains(log, want) {
				t.Errorf("%s: the log lacks %q:\n%s", h, want, log)
			}
		}
		if strings.Contains(log, secret) || strings.Contains(string(run.Result), secret) {
			t.Errorf("%s: the secret reached the run:\n%s", h, log)
		}
	}

	// An exception is a FAILURE with its traceback.
	s.createJob(`{"id":"legacy.boom","handler":"py:extensions.x.job:Boom","public_cfg":{"row":7}}`)
	boom := s.waitStatus(s.runNow("legacy.boom").ID, connecthub.StatusFailure)
	if boom.Error != "ValueError: bad data in row 7" || !strings.Contains(boom.Traceback, "Traceback (most recent call last)") ||
		!strings.Contains(boom.Traceback, filepath.Join("extensions", "x", "job.py")) {
		t.Errorf("failed run: error %q traceback %q", boom.Error, boom.Traceback)
	}

	// Two runs at once, logging through the same logger in turns, each
	// get exactly their own lines.
	ids := map[string]string{}
	for _, me := range []string{"a", "b"} {
		s.createJob(mustJSON(map[string]any{"id": "legacy.chatty-" + me, "handler": "py:extensions.x.job:Chatty",
			"public_cfg": map[string]any{"me": "run-" + me}}))
		ids[me] = s.runNow("legacy.chatty-" + me).ID
	}
	for me, id := range ids {
		s.waitStatus(id, connecthub.StatusSuccess)
		log, _, err := s.client.RunLog(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(log), "\n")
		if len(lines) != 60 {
			t.Errorf("run %s has %d log lines, want 60:\n%s", me, len(lines), log)
		}
		for i, line := range lines {
			if want := "INFO extensions.x.job: run-" + me + " line "; !strings.Contains(line, want) || !strings.HasSuffix(line, " line "+strconv.Itoa(i)) {
				t.Errorf("run %s line %d is %q", me, i, line)
				break
			}
		}
	}

	// SIGTERM drains: the short run finishes, the long one is handed back
	// (QUEUED again, same attempt), the node deregisters, the exit is 0.
	s.createJob(`{"id":"legacy.nap","handler":"py:extensions.x.job:Nap","public_cfg":{"seconds":1}}`)
	s.createJob(`{"id":"legacy.long","handler":"py:extensions.x.job:Nap","public_cfg":{"seconds":60}}`)
	nap, long := s.runNow("legacy.nap").ID, s.runNow("legacy.long").ID
	for _, id := range []string{nap, long} {
		s.waitRun(id, "napping on the worker", func(r *connecthub.Run) bool {
			log, _, err := s.client.RunLog(context.Background(), id)
			return err == nil && r.Status == connecthub.StatusRunning && strings.Contains(log, "napping")
		})
	}
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(t); code != 0 {
		t.Errorf("python worker exit code %d after SIGTERM\n%s", code, w.logs.String())
	}
	if r := s.waitStatus(nap, connecthub.StatusSuccess); r.Message != "slept" {
		t.Errorf("drained run: %+v", r)
	}
	if r := s.waitStatus(long, connecthub.StatusQueued); r.Attempt != 1 {
		t.Errorf("handed-back run: attempt %d", r.Attempt)
	}
	if _, ok := s.node("py-legacy-1"); ok {
		t.Error("the python worker is still registered after SIGTERM (prestop)")
	}
}
