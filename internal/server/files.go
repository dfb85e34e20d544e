package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/connecthub/connecthub/internal/config"
)

// Modes of what ConnectHub creates in its data directory: the database and
// its WAL hold the jobs (and encrypted secrets), the key file decrypts them
// and the admin token opens everything, so nobody but the service's user
// has any business reading them.
const (
	privateDirMode  fs.FileMode = 0o700
	privateFileMode fs.FileMode = 0o600
)

// createPrivate creates path as an empty file with mode 0600 unless it
// exists. SQLite gives the WAL and shared-memory files it creates later the
// mode of the database file, so creating the database this way keeps all
// three private whatever the umask.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, privateFileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// privateFiles lists the files of cfg that must be readable by their owner
// only; some may not exist.
func privateFiles(cfg *config.Config) []string {
	files := []string{cfg.FernetKeyPath, cfg.AdminTokenPath()}
	if db := cfg.SQLitePath(); db != "" {
		files = append(files, db, db+"-wal", db+"-shm", lockPath(db))
	}
	return files
}

// warnLooseModes logs one WARN line for the data directory and each of
// cfg's private files that exists with permissions for the group or
// others. It changes nothing: the operator may have reasons (a backup
// user's group), but should know.
func warnLooseModes(log *slog.Logger, cfg *config.Config) {
	if runtime.GOOS == "windows" {
		return // Windows has ACLs, not these mode bits.
	}
	check := func(path, what, want string) {
		info, err := os.Stat(path)
		if err != nil {
			return
		}
		if mode := info.Mode().Perm(); mode&0o077 != 0 {
			log.Warn(fmt.Sprintf("%s is accessible to other users: run chmod %s on it", what, want),
				"path", path, "mode", fmt.Sprintf("%04o", mode))
		}
	}
	check(cfg.DataDir, "the data directory", "700")
	for _, p := range privateFiles(cfg) {
		check(p, "a private file", "600")
	}
}

// lockPath is the lock file of the SQLite database db.
func lockPath(db string) string { return db + ".lock" }

// explainDataDir adds what an operator needs to fix a start-up error about
// a path in the data directory when the directory itself cannot be
// written by this process: typically a volume that belongs to another user
// than the one the container runs as. The bare error ("open
// /data/admin.token: permission denied") names neither.
func explainDataDir(cfg *config.Config, err error) error {
	dir := cfg.DataDir
	if err == nil || dir == "" || !strings.Contains(err.Error(), dir) {
		return err
	}
	probe, perr := os.CreateTemp(dir, ".connecthub-write-check-*")
	if perr == nil {
		probe.Close()
		os.Remove(probe.Name())
		return err
	}
	owner := ""
	if info, serr := os.Stat(dir); serr == nil {
		owner = " " + describeOwner(info)
	}
	return fmt.Errorf("the data directory %s is not writable by this process (%s)%s: give it to that user (for a container volume: chown -R UID:GID on it, 65532:65532 for the ConnectHub image) or set CONNECTHUB_DATA_DIR to a directory it can write: %w",
		dir, processUser(), owner, err)
}
