//go:build unix

package server

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// processUser names the user and group this process runs as.
func processUser() string { return fmt.Sprintf("uid %d, gid %d", os.Geteuid(), os.Getegid()) }

// describeOwner names the owner and mode of a file.
func describeOwner(info fs.FileInfo) string {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("and belongs to uid %d, gid %d with mode %04o", st.Uid, st.Gid, info.Mode().Perm())
	}
	return fmt.Sprintf("and has mode %04o", info.Mode().Perm())
}
