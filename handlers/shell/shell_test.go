//go:build linux

package shell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handler/handlertest"
)

// leakCanary is set in the test process's environment: a command must never
// see it, as it stands for the server's CONNECTHUB_ADMIN_TOKEN.
const leakCanary = "CONNECTHUB_ADMIN_TOKEN"

func TestMain(m *testing.M) {
	os.Setenv(leakCanary, "must-not-leak")
	if dir := os.Getenv(parentEnv); dir != "" {
		// Re-executed by TestKillingTheServerKillsItsCommands.
		os.Exit(actAsServer(dir))
	}
	os.Exit(m.Run())
}

// quick bounds every wait in these tests: far above what a healthy run takes,
// far below the 100 s sleeps that a broken kill would leave running.
const quick = 10 * time.Second

// runCmd runs the handler with config on a fresh task and waits for it, at
// most quick.
func runCmd(t *testing.T, r *runner, ctx context.Context, config string, secrets map[string]string) (*handler.Result, *handlertest.Recorder, error) {
	t.Helper()
	task, rec := handlertest.NewTask(config, secrets)
	type outcome struct {
		res *handler.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := r.run(ctx, task)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, rec, o.err
	case <-time.After(quick):
		t.Fatalf("the shell handler did not return within %s; log so far: %q", quick, rec.Messages())
		return nil, nil, nil
	}
}

func newRunner() *runner { return &runner{outputGrace: defaultOutputGrace} }

// sh returns the config that runs script with sh -c.
func sh(script string) string {
	return fmt.Sprintf(`{"command": "sh", "args": ["-c", %q]}`, script)
}

type line struct {
	level  slog.Level
	msg    string
	stream string
}

func TestOutputGoesToTheRunLog(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 150000)
	tests := []struct {
		name   string
		script string
		want   []line
	}{
		{
			name:   "stdout lines",
			script: `echo one; echo two`,
			want:   []line{{slog.LevelInfo, "one", ""}, {slog.LevelInfo, "two", ""}},
		},
		{
			name:   "stderr lines, WARNING promoted",
			script: `echo oops >&2; echo "WARNING: disk 91% full" >&2; echo " WARNING is not at the start" >&2; echo "warning: lower case" >&2`,
			want: []line{
				{slog.LevelInfo, "oops", "stderr"},
				{slog.LevelWarn, "WARNING: disk 91% full", "stderr"},
				{slog.LevelInfo, " WARNING is not at the start", "stderr"},
				{slog.LevelInfo, "warning: lower case", "stderr"},
			},
		},
		{
			name:   "WARNING on stdout is not a warning",
			script: `echo "WARNING: from stdout"`,
			want:   []line{{slog.LevelInfo, "WARNING: from stdout", ""}},
		},
		{
			name:   "a final line without a newline",
			script: `printf 'a\nb'`,
			want:   []line{{slog.LevelInfo, "a", ""}, {slog.LevelInfo, "b", ""}},
		},
		{
			name:   "CRLF endings and empty lines",
			script: `printf 'a\r\n\nb\n'`,
			want:   []line{{slog.LevelInfo, "a", ""}, {slog.LevelInfo, "", ""}, {slog.LevelInfo, "b", ""}},
		},
		{
			name:   "a long line is split, not lost",
			script: `head -c 150000 /dev/zero | tr '\0' x; echo; echo after`,
			want: []line{
				{slog.LevelInfo, long[:MaxLineBytes], ""},
				{slog.LevelInfo, long[:MaxLineBytes], ""},
				{slog.LevelInfo, long[:150000-2*MaxLineBytes], ""},
				{slog.LevelInfo, "after", ""},
			},
		},
		{
			name:   "a line of exactly the maximum length",
			script: fmt.Sprintf(`head -c %d /dev/zero | tr '\0' x; echo; echo after`, MaxLineBytes),
			want:   []line{{slog.LevelInfo, long[:MaxLineBytes], ""}, {slog.LevelInfo, "after", ""}},
		},
		{
			name:   "no output",
			script: `true`,
			want:   nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, rec, err := runCmd(t, newRunner(), context.Background(), sh(tt.script), nil)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if res.Message != "exit 0" {
				t.Errorf("message = %q, want exit 0", res.Message)
			}
			var got []line
			for _, r := range rec.Records() {
				got = append(got, line{r.Level, r.Message, r.Attrs["stream"]})
			}
			// Stdout and stderr are read concurrently, so only the order
			// within each stream is defined.
			for _, stream := range []string{"", "stderr"} {
				g := slices.DeleteFunc(slices.Clone(got), func(l line) bool { return l.stream != stream })
				w := slices.DeleteFunc(slices.Clone(tt.want), func(l line) bool { return l.stream != stream })
				if !slices.Equal(g, w) {
					t.Errorf("stream %q: got %d lines %s, want %d lines %s", stream, len(g), abbreviate(g), len(w), abbreviate(w))
				}
			}
		})
	}
}

func abbreviate(lines []line) string {
	var parts []string
	for _, l := range lines {
		msg := l.msg
		if len(msg) > 20 {
			msg = fmt.Sprintf("%s…(%d bytes)", msg[:20], len(msg))
		}
		parts = append(parts, fmt.Sprintf("%s %q", l.level, msg))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func TestOutputIsStreamedWhileTheCommandRuns(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), quick)
	defer cancel()
	config := fmt.Sprintf(`{"command": "sh", "args": ["-c", %q], "env": {"FIFO": %q}}`,
		`echo started; read word < "$FIFO"; echo "got $word"`, fifo)
	task, rec := handlertest.NewTask(config, nil)
	done := make(chan error, 1)
	go func() {
		_, err := newRunner().run(ctx, task)
		done <- err
	}()

	// The command is blocked on the FIFO, so "started" can only be in the
	// log if it was logged before the command exited.
	if _, err := rec.WaitFor(ctx, func(r handlertest.Record) bool { return r.Message == "started" }); err != nil {
		t.Fatalf("the first line was not logged while the command ran: %v", err)
	}
	if err := os.WriteFile(fifo, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("err = %v", err)
	}
	if got := rec.Messages(); !slices.Equal(got, []string{"started", "got go"}) {
		t.Errorf("log = %q", got)
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		script  string
		wantErr string
	}{
		{`echo before; exit 3`, "exit status 3"},
		{`exit 1`, "exit status 1"},
		{`kill -TERM $$`, "signal: terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			t.Parallel()
			res, rec, err := runCmd(t, newRunner(), context.Background(), sh(tt.script), nil)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("result %+v, err = %v; want %q", res, err, tt.wantErr)
			}
			if handler.IsPermanent(err) {
				t.Errorf("a failed command must be retryable")
			}
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) {
				t.Errorf("err is %T, want an *exec.ExitError", err)
			}
			if strings.HasPrefix(tt.script, "echo before") && !slices.Contains(rec.Messages(), "before") {
				t.Errorf("output before the failure was lost: %q", rec.Messages())
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	config := `{"command": "env", "env": {"MODE": "full", "LANG": "C.UTF-8-from-env", "DUP": "public", "CONNECTHUB_RUN_ID": "forged"}}`
	secrets := map[string]string{"API_KEY": "s3cr3t value", "DUP": "from-secret", "dashed-name": "ok", "CONNECTHUB_ATTEMPT": "9"}
	task, rec := handlertest.NewTask(config, secrets)
	task.RunID, task.JobID, task.Attempt = "run-42", "job-7", 2
	task.ScheduledFor = time.Date(2026, 12, 6, 22, 30, 0, 0, time.FixedZone("CST", 8*3600))
	if _, err := newRunner().run(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, msg := range rec.Messages() {
		k, v, _ := strings.Cut(msg, "=")
		got[k] = v
	}
	want := map[string]string{
		"MODE":        "full",
		"LANG":        "C.UTF-8-from-env",
		"DUP":         "from-secret",
		"API_KEY":     "s3cr3t value",
		"dashed-name": "ok",
		// The run's identity wins over env and secrets of the same name.
		"CONNECTHUB_RUN_ID":        "run-42",
		"CONNECTHUB_JOB_ID":        "job-7",
		"CONNECTHUB_ATTEMPT":       "2",
		"CONNECTHUB_SCHEDULED_FOR": "2026-12-06T14:30:00Z",
	}
	for _, k := range []string{"PATH", "HOME", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			want[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("the command sees %s, which it must not", k)
		}
	}
	if _, ok := got[leakCanary]; ok {
		t.Errorf("the server's %s leaked into the command's environment", leakCanary)
	}
}

// pidfd returns a descriptor that becomes readable when process pid exits,
// or -1 when the process is already gone.
func pidfd(t *testing.T, pid int) int {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return -1
	}
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// exited reports whether the process behind fd has exited, waiting at most
// timeout for it.
func exited(t *testing.T, fd int, timeout time.Duration) bool {
	t.Helper()
	if fd < 0 {
		return true
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(timeout.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		return n > 0
	}
}

// childPID waits for the "child N" line the test scripts print.
func childPID(t *testing.T, ctx context.Context, rec *handlertest.Recorder) int {
	t.Helper()
	r, err := rec.WaitFor(ctx, func(r handlertest.Record) bool { return strings.HasPrefix(r.Message, "child ") })
	if err != nil {
		t.Fatalf("no child PID logged: %v (log: %q)", err, rec.Messages())
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(r.Message, "child "))
	if err != nil {
		t.Fatalf("bad child line %q", r.Message)
	}
	return pid
}

func TestCancellationKillsTheProcessGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stop    func(context.CancelFunc)
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{
			name:    "cancel",
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			stop:    func(cancel context.CancelFunc) { cancel() },
			wantErr: context.Canceled,
		},
		{
			name: "timeout",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 2*time.Second)
			},
			stop:    func(context.CancelFunc) {},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := tt.ctx()
			defer cancel()
			// The grandchild holds stdout: a kill of sh alone would leave
			// it running and the handler waiting on the pipe.
			task, rec := handlertest.NewTask(sh(`sleep 100 & echo "child $!"; wait`), nil)
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := newRunner().run(ctx, task)
				done <- err
			}()
			waitCtx, stopWaiting := context.WithTimeout(context.Background(), quick)
			defer stopWaiting()
			fd := pidfd(t, childPID(t, waitCtx, rec))
			if exited(t, fd, 0) {
				t.Fatal("the child exited before the run was stopped")
			}

			tt.stop(cancel)
			select {
			case err := <-done:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case <-time.After(quick):
				t.Fatalf("the handler did not return within %s of being stopped", quick)
			}
			if !exited(t, fd, quick) {
				t.Fatal("the sleep 100 child is still running after the run was stopped")
			}
			if elapsed := time.Since(start); elapsed > quick {
				t.Errorf("stopping took %s", elapsed)
			}
		})
	}
}

func TestLeftoversAreKilledWhenTheCommandExits(t *testing.T) {
	t.Parallel()
	// An hour of grace: the handler returns at once only because killing
	// the group closes the pipe the background child holds.
	r := &runner{outputGrace: time.Hour}
	task, rec := handlertest.NewTask(sh(`sleep 100 & echo "child $!"`), nil)
	done := make(chan error, 1)
	go func() {
		_, err := r.run(context.Background(), task)
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), quick)
	defer cancel()
	fd := pidfd(t, childPID(t, ctx, rec))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("err = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the handler waited for a background child holding its output")
	}
	if !exited(t, fd, quick) {
		t.Fatal("the background child outlived the command")
	}
}

func TestAnEscapedChildHoldingTheOutputDoesNotHang(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setsid"); err != nil {
		// make test and CI set CONNECTHUB_TEST_STRICT: there a missing
		// tool is a failure, not a reason to skip.
		if os.Getenv("CONNECTHUB_TEST_STRICT") == "1" {
			t.Fatal("setsid (util-linux) is not installed")
		}
		t.Skip("setsid (util-linux) is not installed")
	}
	r := &runner{outputGrace: 100 * time.Millisecond}
	// sh waits until the child has its own session (field 6 of
	// /proc/PID/stat), so that it has surely left the group when sh exits.
	task, rec := handlertest.NewTask(sh(`setsid sleep 100 & pid=$!
		while [ "$(cut -d' ' -f6 /proc/$pid/stat)" != "$pid" ]; do :; done
		echo "child $pid"`), nil)
	done := make(chan error, 1)
	go func() {
		_, err := r.run(context.Background(), task)
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), quick)
	defer cancel()
	pid := childPID(t, ctx, rec)
	// The escaped process is out of the handler's reach: the test cleans up.
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("err = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the handler hung on a pipe held by a process outside its group")
	}
	warned := slices.ContainsFunc(rec.Records(), func(r handlertest.Record) bool {
		return r.Level == slog.LevelWarn && strings.Contains(r.Message, "stopped reading the output")
	})
	if !warned {
		t.Errorf("no warning about the abandoned output: %q", rec.Messages())
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExecutable := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\necho hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		config  string
		secrets map[string]string
		wantErr string
	}{
		{"no config", ``, nil, "command is required"},
		{"blank command", `{"command": " "}`, nil, "command is required"},
		{"unknown key", `{"command": "true", "cmd": "x"}`, nil, `unknown key "cmd"`},
		{"args not strings", `{"command": "echo", "args": [1]}`, nil, "must be a string, not a number"},
		{"args with NUL", `{"command": "echo", "args": ["a\u0000b"]}`, nil, "args[0] contains a NUL byte"},
		{"env name with =", `{"command": "true", "env": {"A=B": "x"}}`, nil, `env: "A=B" contains "="`},
		{"env value with NUL", `{"command": "true", "env": {"A": "x\u0000"}}`, nil, "env.A: the value contains a NUL byte"},
		{"secret name with =", `{"command": "true"}`, map[string]string{"A=B": "v"}, `secret "A=B" cannot be exported`},
		{"secret value with NUL", `{"command": "true"}`, map[string]string{"K": "pa55\x00word"}, `secret "K" cannot be exported: its value contains a NUL byte`},
		{"command not found", `{"command": "no-such-command-connecthub"}`, nil, "executable file not found"},
		{"missing dir", fmt.Sprintf(`{"command": "true", "dir": %q}`, filepath.Join(dir, "nope")), nil, "no such file or directory"},
		{"not executable", fmt.Sprintf(`{"command": %q}`, notExecutable), nil, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := runCmd(t, newRunner(), context.Background(), tt.config, tt.secrets)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if !handler.IsPermanent(err) {
				t.Errorf("err = %v is not permanent", err)
			}
			if strings.Contains(err.Error(), "pa55") {
				t.Errorf("err names a secret value: %v", err)
			}
		})
	}
}

func TestDirAndNilLogger(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := fmt.Sprintf(`{"command": "sh", "args": ["-c", "pwd > out.txt"], "dir": %q}`, dir)
	task := &handler.Task{Config: []byte(config)} // no logger: output is discarded
	res, err := Spec().Func(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	if res.Message != "exit 0" {
		t.Errorf("message = %q", res.Message)
	}
	out, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != dir {
		t.Errorf("the command ran in %q, want %q", got, dir)
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	config := fmt.Sprintf(`{"command": "touch", "args": [%q]}`, filepath.Join(dir, "ran"))
	_, _, err := runCmd(t, newRunner(), ctx, config, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the command ran although the run was already cancelled")
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	spec := Spec()
	if spec.Name != "shell" || spec.Func == nil || spec.Description == "" || len(spec.SecretKeys) != 0 {
		t.Fatalf("spec = %+v", spec)
	}
	handlertest.CheckSchema(t, spec,
		[]string{
			`{"command": "sh"}`,
			`{"command": "sh", "args": ["-c", "echo hi"], "dir": "/tmp", "env": {"K": "V"}}`,
		},
		[]string{
			`{}`,
			`{"command": ""}`,
			`{"command": "sh", "args": "-c"}`,
			`{"command": "sh", "args": [1]}`,
			`{"command": "sh", "env": {"K": 1}}`,
			`{"command": "sh", "env": {"A=B": "x"}}`,
			`{"command": "sh", "cmd": "x"}`,
		})
}
