//go:build unix && !linux

package shell

import "errors"

// waitExited is not available outside Linux here; superviseGroup falls back
// to reaping the command directly.
func waitExited(int) error { return errors.ErrUnsupported }
