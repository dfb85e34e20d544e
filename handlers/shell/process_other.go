//go:build !unix

package shell

import (
	"context"
	"errors"
	"fmt"
)

// errUnsupported is returned on systems without process groups.
var errUnsupported = fmt.Errorf("the shell handler needs a Unix system (process groups): %w", errors.ErrUnsupported)

type proc struct{}

func start(launch) (*proc, error) { return nil, errUnsupported }

func (*proc) wait(context.Context) (bool, error) { return false, errUnsupported }
