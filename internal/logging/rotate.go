package logging

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// RotatingFile is an io.WriteCloser that appends to a file and, when the
// next write would take it past a size limit, renames it to path.1 (shifting
// path.1 to path.2 and so on, dropping the oldest) and starts a new one.
//
// It exists so that a process configured with a log directory never fills
// the disk, without a third-party dependency or an external logrotate. It is
// safe for concurrent use. Each Write lands whole in one file, so a log
// record is never split across two files; a single write larger than the
// limit gets a file of its own.
//
// Only one process may write a given path: two processes rotating the same
// file would rename each other's files away.
type RotatingFile struct {
	path     string
	maxBytes int64
	keep     int

	mu     sync.Mutex
	f      *os.File // nil after Close, or after a rotation that could not reopen it
	size   int64
	closed bool
}

// File permissions of the log directory and files: logs are operational
// data, readable by the owner's group (for log shippers), not by everyone.
const (
	dirMode  = 0o750
	fileMode = 0o640
)

// OpenRotatingFile opens path for appending, creating it and its directory
// if needed. The file is rotated before a write that would make it larger
// than maxBytes; keep old files are retained as path.1 (the newest) to
// path.<keep>. keep 0 keeps none: the file is simply started afresh.
func OpenRotatingFile(path string, maxBytes int64, keep int) (*RotatingFile, error) {
	if path == "" {
		return nil, errors.New("logging: rotating file: empty path")
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("logging: rotating file %s: size limit must be > 0, got %d", path, maxBytes)
	}
	if keep < 0 {
		return nil, fmt.Errorf("logging: rotating file %s: number of old files to keep must be >= 0, got %d", path, keep)
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return nil, fmt.Errorf("logging: %w", err)
	}
	r := &RotatingFile{path: path, maxBytes: maxBytes, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// open opens (or creates) the current file and learns its size, so that a
// restarted process continues an existing log and rotates it on time.
func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("logging: %w", err)
	}
	r.f, r.size = f, info.Size()
	return nil
}

// Write appends p, rotating first if p would not fit in the current file.
// After Close it returns os.ErrClosed.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	if r.f == nil {
		// An earlier rotation could not reopen the file; try again.
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxBytes {
		if err := r.rotate(); err != nil && r.f == nil {
			// Not even the current file could be reopened: nothing to
			// write to.
			return 0, err
		}
		// A failed rename leaves the current file open and growing;
		// losing log records would be worse than an oversized file, and
		// the next write tries again.
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate shifts the old files up by one, moves the current file to path.1
// and opens a fresh one. It always tries to leave a file open, even when a
// rename fails, so that logging goes on. r.mu must be held.
func (r *RotatingFile) rotate() error {
	var errs []error
	if err := r.f.Close(); err != nil {
		errs = append(errs, err)
	}
	r.f = nil
	if r.keep == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	} else {
		// Dropping the oldest first makes room; the renames then go from
		// old to new so that none overwrites a file still to be moved.
		if err := os.Remove(r.old(r.keep)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		for i := r.keep - 1; i >= 1; i-- {
			if err := os.Rename(r.old(i), r.old(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if err := os.Rename(r.path, r.old(1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := r.open(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("logging: rotating %s: %w", r.path, errors.Join(errs...))
	}
	return nil
}

// old returns the name of the i-th old file.
func (r *RotatingFile) old(i int) string { return r.path + "." + strconv.Itoa(i) }

// Close closes the file. Writes after Close fail with os.ErrClosed; closing
// again is a no-op.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
