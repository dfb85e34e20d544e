package shell

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/connecthub/connecthub/handler/handlertest"
)

// parentEnv makes the test binary act as a server that runs one shell
// command and then waits to be killed; its value is a directory where the
// command writes its PIDs.
const parentEnv = "CONNECTHUB_SHELL_TEST_SERVER_DIR"

// actAsServer runs a command whose shell writes its own PID and starts a
// child (sleep 60, not exec'ed, so it is a grandchild that no parent-death
// signal of its own reaches), then blocks until it is killed.
func actAsServer(dir string) int {
	task, _ := handlertest.NewTask(sh(fmt.Sprintf(
		`echo $$ > %[1]s/sh.tmp && mv %[1]s/sh.tmp %[1]s/sh.pid
		sleep 60 & echo $! > %[1]s/sleep.tmp && mv %[1]s/sleep.tmp %[1]s/sleep.pid
		wait`, dir)), nil)
	_, err := newRunner().run(context.Background(), task)
	fmt.Fprintf(os.Stderr, "the command ended before the server was killed: %v\n", err)
	return 3
}

// readPID waits, at most quick, for the file name in dir and returns the PID
// it holds. The files are renamed into place, so a file that exists is
// complete.
func readPID(t *testing.T, dir, name string, server *exec.Cmd, serverDone <-chan error) int {
	t.Helper()
	deadline := time.NewTimer(quick)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		text, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(text)))
			if err != nil {
				t.Fatalf("%s holds %q", name, text)
			}
			return pid
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		select {
		case err := <-serverDone:
			t.Fatalf("the server process ended before the command wrote %s: %v", name, err)
		case <-deadline.C:
			server.Process.Kill()
			t.Fatalf("no %s within %s", name, quick)
		case <-tick.C:
		}
	}
}

// TestKillingTheServerKillsItsCommands kills, with SIGKILL, a process that
// runs a shell command (this test binary again), and checks that the
// command's shell and the child it started both die within a few seconds,
// instead of running on while the run is rescued and started again.
func TestKillingTheServerKillsItsCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	server := exec.Command(os.Args[0], "-test.run=^$")
	server.Env = append(os.Environ(), parentEnv+"="+dir)
	server.Stderr = os.Stderr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	serverDone := make(chan error, 1)
	go func() { serverDone <- server.Wait() }()

	shPID := readPID(t, dir, "sh.pid", server, serverDone)
	sleepPID := readPID(t, dir, "sleep.pid", server, serverDone)
	shFD, sleepFD := pidfd(t, shPID), pidfd(t, sleepPID)
	// A failed test must not leave a 60 s sleep behind.
	t.Cleanup(func() {
		unix.Kill(sleepPID, unix.SIGKILL)
		unix.Kill(shPID, unix.SIGKILL)
	})
	if exited(t, shFD, 0) || exited(t, sleepFD, 0) {
		t.Fatal("the command ended before the server was killed")
	}

	if err := server.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	<-serverDone
	const bound = 5 * time.Second
	if !exited(t, shFD, bound) {
		t.Errorf("the command's shell (PID %d) outlived its server by %s", shPID, bound)
	}
	if !exited(t, sleepFD, bound) {
		t.Errorf("the command's child sleep 60 (PID %d) outlived its server by %s", sleepPID, bound)
	}
}

// TestTheServerIsNotDumpable checks that once a command has run, the server
// process is non-dumpable, which makes its /proc/PID/environ unreadable to
// commands of the same user; when the test does not run as root, it also
// tries to read it from a command, as the attack did.
func TestTheServerIsNotDumpable(t *testing.T) {
	t.Parallel()
	script := fmt.Sprintf(`tr '\0' '\n' < /proc/%d/environ; exit 0`, os.Getpid())
	_, rec, err := runCmd(t, newRunner(), context.Background(), sh(script), nil)
	if err != nil {
		t.Fatal(err)
	}
	dumpable, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil || dumpable != 0 {
		t.Fatalf("PR_GET_DUMPABLE = %d, %v; want 0", dumpable, err)
	}
	if os.Geteuid() == 0 {
		t.Log("running as root, which may read any process's environment: only the dumpable flag was checked")
		return
	}
	for _, line := range rec.Messages() {
		if strings.Contains(line, leakCanary) {
			t.Errorf("the command read the server's environment: %q", line)
		}
	}
}

func TestLookupUser(t *testing.T) {
	t.Parallel()
	if _, err := LookupUser("no-such-user-connecthub"); err == nil || !strings.Contains(err.Error(), `shell user "no-such-user-connecthub"`) {
		t.Errorf("unknown user: err = %v", err)
	}
	if _, err := SpecWithOptions(Options{User: "no-such-user-connecthub"}); err == nil {
		t.Error("SpecWithOptions accepted an unknown user")
	}
	me, err := user.Current()
	if err != nil {
		t.Skipf("no current user: %v", err)
	}
	for _, name := range []string{me.Username, me.Uid} {
		a, err := LookupUser(name)
		if err != nil {
			t.Fatalf("LookupUser(%q) = %v", name, err)
		}
		if strconv.Itoa(int(a.UID)) != me.Uid || a.Home != me.HomeDir || a.Switch {
			t.Errorf("LookupUser(%q) = %+v, want the current user without a switch", name, a)
		}
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	a, err := LookupUser("nobody")
	if os.Geteuid() != 0 {
		if err == nil || !strings.Contains(err.Error(), "root") {
			t.Errorf("switching to nobody without root: err = %v, want one that says root is needed", err)
		}
		return
	}
	if err != nil || !a.Switch || strconv.Itoa(int(a.UID)) != nobody.Uid {
		t.Fatalf("LookupUser(nobody) = %+v, %v", a, err)
	}
}

// TestCommandsRunAsTheShellUser runs a command as nobody, which needs root.
func TestCommandsRunAsTheShellUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	a, err := LookupUser("nobody")
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner()
	r.user = a
	_, rec, err := runCmd(t, r, context.Background(), sh(`echo "uid $(id -u) gid $(id -g) home $HOME"`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("uid %s gid %s home %s", nobody.Uid, nobody.Gid, nobody.HomeDir)
	if got := rec.Messages(); len(got) != 1 || got[0] != want {
		t.Errorf("the command printed %q, want %q", got, want)
	}
}
