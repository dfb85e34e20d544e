//go:build unix

package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockDatabase takes the lock file next to the SQLite database db, so that
// a second serve on the same file refuses to start instead of running a
// second scheduler and worker pool against it. The lock is an flock on an
// open file, which the kernel releases when the process ends in any way,
// kill -9 included: a stale lock file is never a problem. The file holds the
// holder's PID, which the refusal names. The returned func releases the
// lock; the file stays, because removing it would let a process that had
// opened it already lock a file nobody else can find.
func lockDatabase(db string) (release func() error, err error) {
	path := lockPath(db)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, privateFileMode)
	if err != nil {
		return nil, fmt.Errorf("open the database lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := io.ReadAll(io.LimitReader(f, 32))
			pid := strings.TrimSpace(string(b))
			if _, perr := strconv.Atoi(pid); perr != nil {
				pid = "unknown"
			}
			return nil, fmt.Errorf("another connecthub serve (PID %s) is using the SQLite database %s: stop it first, or give this one its own CONNECTHUB_DATA_DIR (lock file %s)", pid, db, path)
		}
		return nil, fmt.Errorf("lock the database lock file %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write the database lock file %s: %w", path, err)
	}
	return func() error {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return f.Close()
	}, nil
}
