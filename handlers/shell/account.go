package shell

import (
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
)

// Account is the user that commands run as when Options.User is set.
type Account struct {
	// Name is the user name as configured.
	Name string
	// UID and GID are the user's ID and primary group.
	UID, GID uint32
	// Groups are the user's supplementary groups.
	Groups []uint32
	// Home is the user's home directory, the command's HOME.
	Home string
	// Switch reports whether starting a command as this user changes the
	// process's credentials: false when the server already runs as it.
	Switch bool
}

// LookupUser resolves a user name or numeric ID to the Account commands run
// as. It fails, naming the user, when the user does not exist, when its IDs
// are not numeric (Windows), or when the server does not run as root and so
// cannot switch to another user.
func LookupUser(name string) (*Account, error) {
	if runtime.GOOS == "windows" {
		return nil, fmt.Errorf("shell user %q: running commands as another user needs a Unix system", name)
	}
	u, err := user.Lookup(name)
	if err != nil {
		if _, numErr := strconv.ParseUint(name, 10, 32); numErr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("shell user %q: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("shell user %q: user ID %q is not numeric", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("shell user %q: group ID %q is not numeric", name, u.Gid)
	}
	a := &Account{Name: name, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	// Supplementary groups are best effort: a system without a group
	// database still runs the command with its primary group.
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil && uint32(g) != a.GID {
				a.Groups = append(a.Groups, uint32(g))
			}
		}
	}
	euid, egid := os.Geteuid(), os.Getegid()
	a.Switch = euid != int(a.UID) || egid != int(a.GID)
	if a.Switch && euid != 0 {
		return nil, fmt.Errorf("shell user %q: the server runs as user ID %d and can start commands as another user only when it runs as root", name, euid)
	}
	return a, nil
}
