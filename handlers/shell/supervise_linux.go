package shell

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// supervisorArg0 is the argument zero that makes this binary, started
// again by start, act as a command's supervisor instead of its usual self.
const supervisorArg0 = "connecthub-shell-supervisor"

// supervisorSpec is what start sends the supervisor on its fd 4.
type supervisorSpec struct {
	Path       string
	Args       []string
	Env        []string
	Credential *syscall.Credential `json:",omitempty"`
}

// init turns the process into a supervisor before any other package of the
// program initialises, when it was started as one. Every binary that can
// run the shell handler imports this package, so every such binary can be
// its own supervisor.
func init() {
	if len(os.Args) == 1 && os.Args[0] == supervisorArg0 {
		os.Exit(supervise())
	}
}

// supervise runs one command and reports how it ended; it is what keeps a
// command from outliving the server.
//
// The supervisor leads the run's process group and the command runs in it.
// The server started the supervisor with a parent-death signal, SIGTERM:
// when the server dies, even by SIGKILL, the kernel sends it, and the
// supervisor kills the whole group, itself included, with SIGKILL. A
// parent-death signal on the command alone would not do: the command's own
// children (sh -c 'a; b' runs a as a child of sh) do not inherit it.
//
// The command gets a parent-death signal too (SIGKILL), so it dies if the
// supervisor is killed on its own. The supervisor exits as its command did
// (the same status, or killed by the same signal); a command that could not
// start is reported to the server on fd 3 as "E <errno> <path>".
func supervise() int {
	// Pdeathsig of the command is tied to the thread that forks it: the
	// main goroutine stays on the main thread, which lives as long as the
	// process.
	runtime.LockOSThread()
	parentGone := make(chan os.Signal, 1)
	signal.Notify(parentGone, syscall.SIGTERM)

	status := os.NewFile(3, "status")
	specFile := os.NewFile(4, "spec")
	// Neither pipe may reach the command: a process holding the status
	// pipe would keep the server waiting for the report.
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)

	var spec supervisorSpec
	err := json.NewDecoder(specFile).Decode(&spec)
	specFile.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "connecthub shell supervisor: reading the command: %v\n", err)
		return 125
	}
	if spec.Env == nil {
		spec.Env = []string{} // nil would mean this process's environment
	}
	cmd := &exec.Cmd{
		Path:        spec.Path,
		Args:        spec.Args,
		Env:         spec.Env,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Credential: spec.Credential, Pdeathsig: syscall.SIGKILL},
	}
	if err := cmd.Start(); err != nil {
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			errno = syscall.EINVAL
		}
		fmt.Fprintf(status, "E %d %s\n", int(errno), spec.Path)
		return 127
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-parentGone:
		// The server is gone: nobody will read the output or record the
		// outcome, and the run will be rescued and run again elsewhere.
		_ = syscall.Kill(0, syscall.SIGKILL)
		<-exited
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		signal.Reset(syscall.SIGTERM)
		dieBy(ws.Signal())
	}
	return ws.ExitStatus()
}

// dieBy ends the supervisor with the signal that ended its command, so that
// the server sees the same wait status as if it had started the command
// itself ("signal: terminated"). The Go runtime handles most signals itself
// (SIGQUIT would print goroutine stacks into the run log), so the signal's
// disposition is set back to the default first: a zeroed kernel sigaction
// is SIG_DFL with no flags and an empty mask whatever the architecture's
// layout. No core file is written: the command wrote its own, if any, and
// one of the supervisor would hold the job's secrets too. If the signal
// does not end the process, it exits with 128 plus the signal number, as a
// shell reports it.
func dieBy(sig syscall.Signal) {
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	var dfl [64]byte
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	_ = unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
	os.Exit(128 + int(sig))
}
