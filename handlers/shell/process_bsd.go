//go:build unix && !linux

package shell

import (
	"context"
	"os/exec"
	"syscall"
)

// proc is a started command. Without a parent-death signal on these
// systems, the command is started directly as the leader of its own process
// group: it is killed with its group when the run ends, but not when the
// server is killed with SIGKILL.
type proc struct{ cmd *exec.Cmd }

func start(l launch) (*proc, error) {
	cmd := &exec.Cmd{Path: l.path, Args: l.args, Dir: l.dir, Env: l.env, Stdout: l.stdout, Stderr: l.stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if l.user != nil && l.user.Switch {
		cmd.SysProcAttr.Credential = credential(l.user)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proc{cmd: cmd}, nil
}

// wait waits for the command and its group; see superviseGroup.
func (p *proc) wait(ctx context.Context) (cancelled bool, exitErr error) {
	return superviseGroup(ctx, p.cmd)
}
