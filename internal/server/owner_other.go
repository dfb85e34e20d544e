//go:build !unix

package server

import (
	"fmt"
	"io/fs"
)

// processUser names the user this process runs as, where uids exist.
func processUser() string { return "the server's user" }

// describeOwner names the mode of a file; ownership is an ACL here.
func describeOwner(info fs.FileInfo) string {
	return fmt.Sprintf("and has mode %04o", info.Mode().Perm())
}
