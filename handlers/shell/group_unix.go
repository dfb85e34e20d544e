//go:build unix

package shell

import (
	"context"
	"os/exec"
	"syscall"
)

// superviseGroup waits for the started command to exit, killing its process
// group if ctx is done first, then kills whatever is left in the group and
// reaps the command. It reports the command's exit error and whether ctx
// ended it. The command must lead its own process group.
//
// The group is killed while the leader is a zombie that only waitExited has
// seen: until cmd.Wait reaps it, its PID (the group's ID) cannot be reused,
// so the signal cannot reach an unrelated process group.
func superviseGroup(ctx context.Context, cmd *exec.Cmd) (cancelled bool, exitErr error) {
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- waitExited(pid) }()
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-ctx.Done():
		cancelled = true
		killGroup(pid)
		waitErr = <-exited
	}
	if waitErr == nil {
		killGroup(pid)
		return cancelled, cmd.Wait()
	}
	// Without a way to wait for the exit without reaping, reap in the
	// background and kill on cancellation; the leftovers of a command that
	// exited on its own are then left alone rather than risk signalling a
	// reused group ID.
	reaped := make(chan error, 1)
	go func() { reaped <- cmd.Wait() }()
	select {
	case err := <-reaped:
		return cancelled, err
	case <-ctx.Done():
		killGroup(pid)
		return true, <-reaped
	}
}

// killGroup sends SIGKILL to every process in the group pgid.
func killGroup(pgid int) {
	// ESRCH (nothing left) is the expected outcome after a clean exit, and
	// EPERM (a member that changed its user ID) cannot be helped here.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// credential is what the process that runs a command as a.
func credential(a *Account) *syscall.Credential {
	return &syscall.Credential{Uid: a.UID, Gid: a.GID, Groups: a.Groups}
}
