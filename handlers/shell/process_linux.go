package shell

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// selfExe is this binary, which runs again as the supervisor. It names the
// running binary even after an upgrade replaced the file on disk.
const selfExe = "/proc/self/exe"

// nonDumpable makes the server non-dumpable once, before its first command
// starts: /proc/PID/environ and /proc/PID/mem of a non-dumpable process are
// readable only by root, so a command running as the server's user cannot
// print the server's environment (CONNECTHUB_ADMIN_TOKEN, the database
// password) from /proc/$PPID/environ. Core dumps, which would hold the same
// secrets, are off as well. Each command is dumpable again after its exec.
var nonDumpable sync.Once

// proc is a started command: its supervisor, leader of the run's process
// group, and the pipe on which the supervisor reports how the command ended.
type proc struct {
	cmd    *exec.Cmd
	status *os.File
	// release lets the OS thread that started the supervisor go; see start.
	release func()
}

// start starts the supervisor that runs the command (see supervise). The
// supervisor gets an empty environment: what it needs, including the
// command's environment with the job's secrets, comes through a pipe, so the
// secrets are never in a process's arguments and nothing from the job's env
// (LD_PRELOAD) can change how the supervisor itself runs.
//
// The supervisor's parent-death signal (SIGTERM, which it catches to kill
// the group) is sent by Linux when the thread that forked it exits, not the
// process: Go may end an OS thread whose goroutine was locked to it, so a
// signal tied to an arbitrary thread could fire while the server lives on.
// The fork therefore happens on a goroutine locked to its thread that stays
// blocked, and so keeps the thread alive, until the supervisor has been
// reaped; release unlocks it.
func start(l launch) (*proc, error) {
	nonDumpable.Do(func() { _ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) })

	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the status pipe: %w", err)
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		statusR.Close()
		statusW.Close()
		return nil, fmt.Errorf("creating the spec pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path:       selfExe,
		Args:       []string{supervisorArg0},
		Dir:        l.dir,
		Env:        []string{},
		Stdout:     l.stdout,
		Stderr:     l.stderr,
		ExtraFiles: []*os.File{statusW, specR}, // fds 3 and 4
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGTERM,
		},
	}
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			<-done
		}
		runtime.UnlockOSThread()
	}()
	err = <-started
	statusW.Close()
	specR.Close()
	if err != nil {
		statusR.Close()
		specW.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, status: statusR, release: sync.OnceFunc(func() { close(done) })}
	s := supervisorSpec{Path: l.path, Args: l.args, Env: l.env}
	if l.user != nil && l.user.Switch {
		s.Credential = credential(l.user)
	}
	// An error here means the supervisor died before reading; wait reports
	// how it ended.
	_ = json.NewEncoder(specW).Encode(s)
	specW.Close()
	return p, nil
}

// wait waits for the command and its group (see superviseGroup). The
// supervisor exits the way its command did, so its exit error is the
// command's; a command that could not be started is reported on the status
// pipe instead.
func (p *proc) wait(ctx context.Context) (cancelled bool, exitErr error) {
	cancelled, exitErr = superviseGroup(ctx, p.cmd)
	p.release()
	// The supervisor has exited; it was the only holder of the write end.
	report, _ := io.ReadAll(io.LimitReader(p.status, 4096))
	p.status.Close()
	if err := parseReport(string(report)); err != nil {
		return cancelled, err
	}
	return cancelled, exitErr
}

// parseReport decodes the supervisor's report of a command that could not
// start, "E <errno> <path>"; it returns nil for no report.
func parseReport(report string) error {
	num, path, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(report, "E "), "\n"), " ")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || !strings.HasPrefix(report, "E ") {
		return nil
	}
	return &startFailure{&fs.PathError{Op: "fork/exec", Path: path, Err: syscall.Errno(n)}}
}
