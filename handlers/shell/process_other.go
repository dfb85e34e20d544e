//go:build !unix

package shell

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// errUnsupported is returned on systems without process groups.
var errUnsupported = fmt.Errorf("the shell handler needs a Unix system (process groups): %w", errors.ErrUnsupported)

func startInGroup(*exec.Cmd) error { return errUnsupported }

func superviseGroup(context.Context, *exec.Cmd) (bool, error) { return false, errUnsupported }
