package secret

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// maxKeyFileSize bounds what LoadOrCreate reads: a key file holds a few
// 44-character lines, so anything this large is the wrong file.
const maxKeyFileSize = 1 << 20

// LoadOrCreate reads the key file at path; if it does not exist it creates
// the parent directory and a file with one fresh key, mode 0600, and reports
// created=true.
//
// A created file holds exactly that key on one line and nothing else, no
// comment: it is the format Python's cryptography.fernet.Fernet reads with
// Fernet(open(path).read().strip()), so the Python ConnectHub can be rolled
// back to with the same key file. What is read is more liberal: one URL-safe
// base64 key per line (blank lines and lines starting with # ignored, so
// files written by older versions, which began with comment lines, still
// load); keys may also be separated by commas (so CONNECTHUB_FERNET_KEY style
// lists work). A file readable by group/others is accepted but the returned
// keyring's Warnings() says so.
//
// The file is created by writing a temporary file and hard-linking it into
// place, which fails if path already exists: when several processes start
// together exactly one key wins, every process reads that key, and no
// process ever sees a half-written file.
func LoadOrCreate(path string) (k *Keyring, created bool, err error) {
	if path == "" {
		return nil, false, errors.New("the Fernet key file path is empty")
	}
	k, err = load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	if err := create(path); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, err
		}
		// Another process created it since we looked: use its key.
		k, err = load(path)
		return k, false, err
	}
	k, err = load(path)
	if err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// Load reads the key file at path as LoadOrCreate does, but never creates
// it: a missing file is an error matching fs.ErrNotExist. A start uses it
// when the database already holds secrets or a key check, because a new key
// could decrypt none of them.
func Load(path string) (*Keyring, error) {
	if path == "" {
		return nil, errors.New("the Fernet key file path is empty")
	}
	return load(path)
}

// load reads and parses an existing key file and checks its permissions.
func load(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read Fernet key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read Fernet key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("the Fernet key file %s is not a regular file", path)
	}
	text, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read Fernet key file: %w", err)
	}
	if len(text) > maxKeyFileSize {
		return nil, fmt.Errorf("the Fernet key file %s is larger than %d bytes; is it the right file?", path, maxKeyFileSize)
	}
	k, err := Parse(string(text), path)
	if err != nil {
		return nil, err
	}
	// Windows has no Unix permission bits; Go reports made-up ones there.
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		k.warnings = append(k.warnings, fmt.Sprintf(
			"Fernet key file %s has mode %04o, so other users can read or change it; run: chmod 600 %s",
			path, perm, path))
	}
	return k, nil
}

// create writes a new key file with one fresh key on its only line. It returns an error
// matching fs.ErrExist if path appeared in the meantime.
func create(path string) (err error) {
	key, err := GenerateKey()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create Fernet key file: %w", err)
	}
	// CreateTemp makes the file 0600, so the key is never readable by others,
	// not even briefly.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create Fernet key file: %w", err)
	}
	defer func() {
		// After a successful link the key lives on under path; on failure
		// the temporary file is the only copy of a key nobody uses.
		if rmErr := os.Remove(tmp.Name()); rmErr != nil && err == nil {
			err = fmt.Errorf("create Fernet key file: remove temporary file: %w", rmErr)
		}
	}()
	_, err = tmp.WriteString(key + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("create Fernet key file: %w", err)
	}
	// Unlike rename, link never replaces an existing file, so a key another
	// process already created (and may already use) is never overwritten.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("create Fernet key file (the file system must support hard links; "+
			"otherwise write a key from `connecthub keygen` into it yourself): %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry durable, so that a crash right after
// start cannot lose a key that secrets were already encrypted with.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync key file directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync key file directory: %w", err)
	}
	return nil
}
