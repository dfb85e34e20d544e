// Package backup is the logic of `connecthub backup`, `restore` and
// `secrets rotate`: the backup archive, a consistent SQLite snapshot, the
// checks that an archive's key decrypts every secret before anything is
// replaced, and key rotation. internal/cli parses their flags and calls
// them; they report to the operator on the Streams they are given.
package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// A backup archive is a gzip-compressed tar file holding, in this order:
//
//	manifest.json   what the archive is (backupManifest)
//	fernet.key      the key file, byte for byte
//	connecthub.db   a consistent SQLite snapshot (absent for PostgreSQL,
//	                whose database is backed up with pg_dump)
//
// tar.gz because every system can open one without ConnectHub: an operator
// in trouble can always get the database and the key out by hand.
const (
	archiveFormat   = 1
	archiveManifest = "manifest.json"
	archiveKey      = "fernet.key"
	archiveDB       = "connecthub.db"
	// maxArchiveMeta bounds the manifest and the key file, which are tiny,
	// so that a wrong or hostile file cannot make restore read gigabytes
	// into memory.
	maxArchiveMeta = 1 << 20
)

// Streams are where a command reports to the operator: results on
// Stdout, warnings on Stderr.
type Streams struct {
	Stdout io.Writer
	Stderr io.Writer
}

// backupManifest describes an archive; it is its first entry.
type backupManifest struct {
	// Format is the archive layout's version, archiveFormat when written.
	Format int `json:"format"`
	// Version is the ConnectHub version that wrote the archive.
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// Driver is config.DriverSQLite or config.DriverPostgres.
	Driver string `json:"driver"`
	// Jobs, Runs and Secrets count what the snapshot holds (SQLite only).
	Jobs    *int64 `json:"jobs,omitempty"`
	Runs    *int64 `json:"runs,omitempty"`
	Secrets *int   `json:"secrets,omitempty"`
}

// Backup writes the archive out (replacing it only with force): the key
// file and, with SQLite, a consistent snapshot of the database; with
// PostgreSQL it prints the pg_dump command to run instead.
func Backup(ctx context.Context, std Streams, cfg *config.Config, out string, force bool) error {
	if strings.TrimSpace(out) == "" {
		return errors.New("no archive named")
	}
	// Refuse before the work, not after it.
	if err := checkArchiveDest(out, force); err != nil {
		return err
	}
	keys, keyFile, err := readKeyFile(cfg.FernetKeyPath)
	if err != nil {
		return err
	}
	man := &backupManifest{Format: archiveFormat, Version: connecthub.Version,
		CreatedAt: time.Now().UTC().Truncate(time.Second), Driver: cfg.DBDriver()}

	switch cfg.DBDriver() {
	case config.DriverPostgres:
		printPGDumpGuidance(std.Stdout, cfg.DBURL, out, man.CreatedAt)
		if err := writeArchive(out, force, man, keyFile, ""); err != nil {
			return err
		}
		fmt.Fprintf(std.Stdout, "wrote %s: the key file %s (the database itself is in the pg_dump)\n", out, cfg.FernetKeyPath)
	case config.DriverSQLite:
		dbPath := cfg.SQLitePath()
		if err := requireSQLiteFile(dbPath); err != nil {
			return err
		}
		// The snapshot is made beside the archive, where there is evidently
		// room for it, rather than in a possibly small /tmp.
		work, err := os.MkdirTemp(filepath.Dir(out), ".connecthub-backup-*")
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		defer os.RemoveAll(work)
		snap := filepath.Join(work, archiveDB)
		if err := snapshotSQLite(ctx, dbPath, snap); err != nil {
			return err
		}
		info, err := inspectSnapshot(ctx, snap, keys)
		if err != nil {
			return err
		}
		secrets := info.census.total()
		man.Jobs, man.Runs, man.Secrets = &info.jobs, &info.runs, &secrets
		if err := info.census.err(keys.Source(), "`connecthub restore` will refuse this archive: add the missing key "+
			"to the key file or re-enter those jobs' secrets, then back up again"); err != nil {
			// The database is worth keeping even so; the warning says what
			// the archive lacks.
			fmt.Fprintf(std.Stderr, "warning: %s\n", err)
		}
		if err := writeArchive(out, force, man, keyFile, snap); err != nil {
			return err
		}
		fmt.Fprintf(std.Stdout, "wrote %s: %s, %s, %s, and the key file %s\n", out,
			plural(int(info.jobs), "job"), plural(int(info.runs), "run"), plural(secrets, "secret"), cfg.FernetKeyPath)
	default:
		return fmt.Errorf("CONNECTHUB_DB_URL: unsupported database %q", cfg.DBDriver())
	}
	fmt.Fprintf(std.Stderr, "warning: %s contains the Fernet key: whoever has it can decrypt every stored secret; "+
		"keep it as safe as the key itself (it was written with mode 0600)\n", out)
	return nil
}

// checkArchiveDest refuses an archive destination that exists (unless
// replace) or that could never be replaced by a file.
func checkArchiveDest(path string, replace bool) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup destination: %w", err)
	}
	if info.IsDir() {
		return fmt.Errorf("backup destination %s is a directory; give a file name such as %s",
			path, filepath.Join(path, "connecthub-backup.tar.gz"))
	}
	if !replace {
		return fmt.Errorf("backup destination %s already exists; choose another name or pass --force to replace it", path)
	}
	return nil
}

// snapshotSQLite writes a consistent copy of the live database at dbPath to
// dest with VACUUM INTO, which reads one snapshot and holds up no writer.
func snapshotSQLite(ctx context.Context, dbPath, dest string) error {
	st, err := sqlitestore.Open(ctx, dbPath, sqlitestore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, dest); err != nil {
		return err
	}
	return st.Close()
}

// snapshotInfo is what a SQLite snapshot holds.
type snapshotInfo struct {
	jobs, runs int64
	census     *secretCensus
}

// inspectSnapshot counts the jobs, runs and secrets of the SQLite file at
// path and decrypts every secret with keys. It leaves the file
// self-contained (no -wal beside it), ready to be archived or moved into
// place. Opening the file also brings an older schema up to date.
func inspectSnapshot(ctx context.Context, path string, keys *secret.Keyring) (*snapshotInfo, error) {
	st, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	stats, err := st.Stats(ctx, time.Now())
	if err != nil {
		return nil, err
	}
	info := &snapshotInfo{jobs: stats.Jobs}
	for _, n := range stats.Runs {
		info.runs += n
	}
	if info.census, err = takeCensus(ctx, st, keys); err != nil {
		return nil, err
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	// Closing checkpoints the WAL that opening created; OpenExclusive
	// makes sure of it and leaves the file in rollback-journal mode.
	ex, err := sqlitestore.OpenExclusive(ctx, path)
	if err != nil {
		return nil, err
	}
	return info, ex.Close()
}

// writeArchive writes the archive to path through a temporary file beside
// it, made with mode 0600 from the start, so that the key is never readable
// by others and path never holds half an archive. Without replace, an
// existing path is never overwritten, even one that appeared meanwhile.
func writeArchive(path string, replace bool, man *backupManifest, keyFile []byte, dbPath string) (err error) {
	manifest, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		tmp.Close()
		// After a successful link the archive lives on under path; after a
		// rename the temporary name is gone already.
		if rmErr := os.Remove(tmp.Name()); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("backup: remove temporary file: %w", rmErr)
		}
	}()
	gz := gzip.NewWriter(tmp)
	tw := tar.NewWriter(gz)
	if err := addArchiveEntry(tw, archiveManifest, bytes.NewReader(manifest), int64(len(manifest)), man.CreatedAt); err != nil {
		return err
	}
	if err := addArchiveEntry(tw, archiveKey, bytes.NewReader(keyFile), int64(len(keyFile)), man.CreatedAt); err != nil {
		return err
	}
	if dbPath != "" {
		f, err := os.Open(dbPath)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := addArchiveEntry(tw, archiveDB, f, info.Size(), man.CreatedAt); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: write %s: %w", path, err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("backup: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: write %s: %w", path, err)
	}
	if err := placeFile(tmp.Name(), path, replace); err != nil {
		return err
	}
	return syncDir(dir)
}

// addArchiveEntry adds one regular file of size bytes read from r.
func addArchiveEntry(tw *tar.Writer, name string, r io.Reader, size int64, mtime time.Time) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: size, ModTime: mtime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup: archive %s: %w", name, err)
	}
	if _, err := io.Copy(tw, r); err != nil {
		return fmt.Errorf("backup: archive %s: %w", name, err)
	}
	return nil
}

// placeFile moves the finished file tmp to dest. With replace it renames
// over whatever is there; without, it links, which fails if dest exists, so
// a file created since the first check is still never overwritten.
func placeFile(tmp, dest string, replace bool) error {
	if replace {
		if err := os.Rename(tmp, dest); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return nil
	}
	err := os.Link(tmp, dest)
	if err == nil {
		return nil // the caller removes tmp
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup destination %s already exists; choose another name or pass --force to replace it", dest)
	}
	// A file system without hard links: check, then rename.
	if _, statErr := os.Lstat(dest); statErr == nil {
		return fmt.Errorf("backup destination %s already exists; choose another name or pass --force to replace it", dest)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// syncDir makes renames in dir durable: a restore or backup reported done
// must survive a power cut that follows.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
