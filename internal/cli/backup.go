package cli

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
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

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

func newBackupCmd(env *Env) *cobra.Command {
	var flags serverFlags
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write the database (SQLite) and the key file into one archive; works while the server runs",
		Long: `Write a consistent snapshot of the SQLite database (VACUUM INTO, safe while servers run)
and the Fernet key file into FILE, a .tar.gz written with mode 0600.

The archive holds the key: whoever has it can decrypt every stored secret, so
store it as carefully as the key itself. With PostgreSQL the command prints the
pg_dump command to run and puts the key file alone into FILE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			return backup(cmd.Context(), env, cfg, out, force)
		},
	}
	flags.register(cmd, false)
	cmd.Flags().StringVar(&out, "out", "", "archive to write (.tar.gz)")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newRestoreCmd(env *Env) *cobra.Command {
	var flags serverFlags
	var in string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --in FILE",
		Short: "Replace the database (SQLite) and the key file with those of a backup archive",
		Long: `Restore an archive written by connecthub backup into the data directory.

Every server using the database must be stopped first: restore refuses while
any process has the database open. It unpacks the archive beside the
database, checks that the archive's key decrypts every secret in it, and only
then replaces connecthub.db and fernet.key, keeping the previous files as
<name>.<time>.bak. An existing database or a different key file is only
replaced with --force.

With PostgreSQL the command prints the pg_restore steps instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			return restore(cmd.Context(), env, cfg, in, force)
		},
	}
	flags.register(cmd, false)
	cmd.Flags().StringVar(&in, "in", "", "archive to restore (.tar.gz from connecthub backup)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing database and key file (they are kept as .bak)")
	_ = cmd.MarkFlagRequired("in")
	return cmd
}

// ---------------------------------------------------------------------------
// backup

func backup(ctx context.Context, env *Env, cfg *config.Config, out string, force bool) error {
	if strings.TrimSpace(out) == "" {
		return usageError("--out FILE must not be empty")
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
		printPGDumpGuidance(env.Stdout, cfg.DBURL, out, man.CreatedAt)
		if err := writeArchive(out, force, man, keyFile, ""); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %s: the key file %s (the database itself is in the pg_dump)\n", out, cfg.FernetKeyPath)
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
		secrets := info.census.jobs + info.census.runs
		man.Jobs, man.Runs, man.Secrets = &info.jobs, &info.runs, &secrets
		if err := info.census.err(keys.Source(), "`connecthub restore` will refuse this archive: add the missing key "+
			"to the key file or re-enter those jobs' secrets, then back up again"); err != nil {
			// The database is worth keeping even so; the warning says what
			// the archive lacks.
			fmt.Fprintf(env.Stderr, "warning: %s\n", err)
		}
		if err := writeArchive(out, force, man, keyFile, snap); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %s: %s, %s, %s, and the key file %s\n", out,
			plural(int(info.jobs), "job"), plural(int(info.runs), "run"), plural(secrets, "secret"), cfg.FernetKeyPath)
	default:
		return fmt.Errorf("CONNECTHUB_DB_URL: unsupported database %q", cfg.DBDriver())
	}
	fmt.Fprintf(env.Stderr, "warning: %s contains the Fernet key: whoever has it can decrypt every stored secret; "+
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

// ---------------------------------------------------------------------------
// restore

func restore(ctx context.Context, env *Env, cfg *config.Config, in string, force bool) error {
	if strings.TrimSpace(in) == "" {
		return usageError("--in FILE must not be empty")
	}
	switch cfg.DBDriver() {
	case config.DriverPostgres:
		return restorePostgres(env, cfg, in)
	case config.DriverSQLite:
		return restoreSQLite(ctx, env, cfg, in, force)
	default:
		return fmt.Errorf("CONNECTHUB_DB_URL: unsupported database %q", cfg.DBDriver())
	}
}

// restoreSQLite replaces the database and the key file with the archive's,
// after checking everything that can be checked: nothing is touched until
// the archive is whole, its key decrypts all its secrets, and no process
// has the database open.
func restoreSQLite(ctx context.Context, env *Env, cfg *config.Config, in string, force bool) error {
	dbPath, keyPath := cfg.SQLitePath(), cfg.FernetKeyPath
	dbExists, err := pathExists(dbPath)
	if err != nil {
		return err
	}
	if dbExists && !force {
		return fmt.Errorf("%s already holds a database; pass --force to replace it (it is kept as a .bak file)", dbPath)
	}
	if !dbExists {
		// A log without its database would be replayed into the restored
		// one by the next open, corrupting it.
		if walExists, err := pathExists(dbPath + "-wal"); err != nil || walExists {
			if err == nil {
				err = fmt.Errorf("%s-wal exists without its database %s; move it away (it may hold data) and try again", dbPath, dbPath)
			}
			return err
		}
	}

	// Unpack beside the database, so that moving it into place is a rename.
	dbDir := filepath.Dir(dbPath)
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	work, err := os.MkdirTemp(dbDir, ".connecthub-restore-*")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(work)
	arc, err := readArchive(in, work)
	if err != nil {
		return err
	}
	if arc.manifest.Driver != config.DriverSQLite {
		return fmt.Errorf("%s holds only the key file of a %s installation, no database: restore that database with its own tools "+
			"(see `connecthub restore` with CONNECTHUB_DB_URL set to it)", in, arc.manifest.Driver)
	}
	keys, err := secret.Parse(string(arc.keyFile), in+" ("+archiveKey+")")
	if err != nil {
		return err
	}
	info, err := inspectSnapshot(ctx, arc.dbPath, keys)
	if err != nil {
		return fmt.Errorf("%s: the database in the archive cannot be used: %w", in, err)
	}
	if err := info.census.err(keys.Source(), "nothing was changed"); err != nil {
		return err
	}
	if m := arc.manifest; m.Jobs != nil && m.Runs != nil && (*m.Jobs != info.jobs || *m.Runs != info.runs) {
		return fmt.Errorf("%s is inconsistent: its manifest lists %d jobs and %d runs, its database holds %d and %d; nothing was changed",
			in, *m.Jobs, *m.Runs, info.jobs, info.runs)
	}

	current, err := os.ReadFile(keyPath)
	keyExists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the Fernet key file: %w", err)
	}
	sameKey := keyExists && bytes.Equal(current, arc.keyFile)
	if keyExists && !sameKey && !force {
		return fmt.Errorf("%s holds other keys than the archive; pass --force to replace it (it is kept as a .bak file)", keyPath)
	}
	var keyTmp string
	if !sameKey {
		if keyTmp, err = stageKeyFile(keyPath, arc.keyFile); err != nil {
			return err
		}
		defer os.Remove(keyTmp) // gone already once renamed into place
	}

	// From here on nobody else may use the database; a running server
	// makes this fail, which is the point.
	if dbExists {
		ex, err := sqlitestore.OpenExclusive(ctx, dbPath)
		if err != nil {
			return fmt.Errorf("restore: %w; nothing was changed", err)
		}
		defer ex.Close()
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	var moved []string
	dbBak := dbPath + "." + stamp + ".bak"
	if dbExists {
		if err := os.Rename(dbPath, dbBak); err != nil {
			return fmt.Errorf("restore: keep the current database: %w; nothing was changed", err)
		}
		moved = append(moved, fmt.Sprintf("previous database kept as %s", dbBak))
		// OpenExclusive folded the WAL into the file; the -shm index left
		// by the server is only a cache, and must not meet the new file.
		if err := os.Remove(dbPath + "-shm"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return errors.Join(fmt.Errorf("restore: %w; nothing was changed", err), os.Rename(dbBak, dbPath))
		}
	}
	if err := os.Rename(arc.dbPath, dbPath); err != nil {
		err = fmt.Errorf("restore: put the restored database in place: %w", err)
		if dbExists {
			if backErr := os.Rename(dbBak, dbPath); backErr != nil {
				return fmt.Errorf("%w; the previous database is %s (move it back to %s)", err, dbBak, dbPath)
			}
		}
		return fmt.Errorf("%w; nothing was changed", err)
	}
	if err := syncDir(dbDir); err != nil {
		return err
	}
	if keyTmp != "" {
		if keyExists {
			bak := keyPath + "." + stamp + ".bak"
			if err := os.Rename(keyPath, bak); err != nil {
				return fmt.Errorf("restore: the database was restored, but the key file was not (%w); "+
					"copy %s from %s to %s by hand", err, archiveKey, in, keyPath)
			}
			moved = append(moved, fmt.Sprintf("previous key file kept as %s", bak))
		}
		if err := os.Rename(keyTmp, keyPath); err != nil {
			return fmt.Errorf("restore: the database was restored, but the key file was not (%w); "+
				"copy %s from %s to %s by hand", err, archiveKey, in, keyPath)
		}
		if err := syncDir(filepath.Dir(keyPath)); err != nil {
			return err
		}
	}

	made := ""
	if m := arc.manifest; !m.CreatedAt.IsZero() {
		made = fmt.Sprintf(" (made %s by connecthub %s)", m.CreatedAt.Format(time.RFC3339), m.Version)
	}
	fmt.Fprintf(env.Stdout, "restored %s%s: %s, %s, %s, all decrypted with its key\n", in, made,
		plural(int(info.jobs), "job"), plural(int(info.runs), "run"), plural(info.census.jobs+info.census.runs, "secret"))
	fmt.Fprintf(env.Stdout, "database: %s\nkey file: %s\n", dbPath, keyPath)
	for _, m := range moved {
		fmt.Fprintln(env.Stdout, m)
	}
	return nil
}

// stageKeyFile writes data to a new file (mode 0600) beside path, synced,
// and returns its name, so that installing it later is one rename.
func stageKeyFile(path string, data []byte) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".restore-*")
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("restore: write the key file: %w", err)
	}
	return f.Name(), nil
}

// pathExists reports whether something is at path.
func pathExists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// archiveContents is an unpacked archive.
type archiveContents struct {
	manifest backupManifest
	keyFile  []byte
	hasDB    bool
	dbPath   string // the unpacked database, "" when not unpacked
}

// readArchive reads the archive at path, checks that it is whole (the
// gzip checksum covers every byte) and well-formed, and unpacks its
// database into dir (with dir "", the database is read and dropped).
func readArchive(path, dir string) (*archiveContents, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open the backup: %w", err)
	}
	defer f.Close()
	notBackup := func(why string, args ...any) error {
		return fmt.Errorf("%s is not a ConnectHub backup archive, or is damaged: %s", path, fmt.Sprintf(why, args...))
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, notBackup("%v", err)
	}
	tr := tar.NewReader(gz)
	arc := &archiveContents{}
	var manifest []byte
	seen := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, notBackup("%v", err)
		}
		if seen[hdr.Name] {
			return nil, notBackup("%s appears twice", hdr.Name)
		}
		seen[hdr.Name] = true
		if hdr.Typeflag != tar.TypeReg {
			return nil, notBackup("%q is not a regular file", hdr.Name)
		}
		switch hdr.Name {
		case archiveManifest:
			if manifest, err = readArchiveMeta(tr, hdr); err != nil {
				return nil, notBackup("%v", err)
			}
		case archiveKey:
			if arc.keyFile, err = readArchiveMeta(tr, hdr); err != nil {
				return nil, notBackup("%v", err)
			}
		case archiveDB:
			arc.hasDB = true
			if dir == "" {
				if _, err := io.Copy(io.Discard, tr); err != nil {
					return nil, notBackup("%v", err)
				}
				break
			}
			arc.dbPath = filepath.Join(dir, archiveDB)
			if err := unpackFile(tr, arc.dbPath); err != nil {
				return nil, notBackup("%v", err)
			}
		default:
			return nil, notBackup("unexpected entry %q", hdr.Name)
		}
	}
	// The tar end marker may come before the gzip trailer, whose checksum
	// is only verified once it has been read.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, notBackup("%v", err)
	}
	if manifest == nil {
		return nil, notBackup("it has no %s", archiveManifest)
	}
	if err := json.Unmarshal(manifest, &arc.manifest); err != nil {
		return nil, notBackup("%s: %v", archiveManifest, err)
	}
	switch m := arc.manifest; {
	case m.Format > archiveFormat:
		return nil, fmt.Errorf("%s was written by a newer ConnectHub (%s, archive format %d); restore it with that version or newer",
			path, m.Version, m.Format)
	case m.Format < 1:
		return nil, notBackup("%s has no valid format", archiveManifest)
	case arc.keyFile == nil:
		return nil, notBackup("it has no %s", archiveKey)
	case m.Driver == config.DriverSQLite && !arc.hasDB:
		return nil, notBackup("it has no %s", archiveDB)
	case m.Driver != config.DriverSQLite && m.Driver != config.DriverPostgres:
		return nil, notBackup("unknown database driver %q", m.Driver)
	}
	return arc, nil
}

// readArchiveMeta reads a small entry (manifest, key file) into memory.
func readArchiveMeta(r io.Reader, hdr *tar.Header) ([]byte, error) {
	if hdr.Size > maxArchiveMeta {
		return nil, fmt.Errorf("%s is %d bytes, more than a ConnectHub backup ever holds", hdr.Name, hdr.Size)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hdr.Name, err)
	}
	return data, nil
}

// unpackFile copies an entry to a new file at path (mode 0600), synced.
func unpackFile(r io.Reader, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}

// restorePostgres checks the archive and prints the restore steps: the
// database is restored with pg_restore, and the key file is checked
// against it with `secrets rotate --dry-run` before any server starts.
func restorePostgres(env *Env, cfg *config.Config, in string) error {
	arc, err := readArchive(in, "")
	if err != nil {
		return err
	}
	if arc.manifest.Driver != config.DriverPostgres {
		return fmt.Errorf("%s holds a %s database, but CONNECTHUB_DB_URL is PostgreSQL; restore needs the same kind of database", in, arc.manifest.Driver)
	}
	if _, err := secret.Parse(string(arc.keyFile), in+" ("+archiveKey+")"); err != nil {
		return err
	}
	t := parsePGTarget(cfg.DBURL)
	w := env.Stdout
	fmt.Fprintf(w, "%s holds the key file of a PostgreSQL installation (made %s by connecthub %s).\n",
		in, arc.manifest.CreatedAt.Format(time.RFC3339), arc.manifest.Version)
	fmt.Fprintln(w, "Restore the database from its pg_dump with every server stopped:")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %spg_restore --clean --if-exists --no-owner %s DUMP.pgdump\n", t.envPrefix(), strings.Join(t.args(), " "))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Then put the archive's key file in place (the current one, if any, may hold keys other data needs: keep a copy):")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  (umask 077 && tar -xzf %s -O %s > %s)\n", shellQuote(in), archiveKey, shellQuote(cfg.FernetKeyPath))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "and check that it decrypts every restored secret before starting the servers:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  connecthub secrets rotate --dry-run")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "pg_restore asks for the password or reads PGPASSWORD or ~/.pgpass (it is not shown here).")
	return nil
}

// ---------------------------------------------------------------------------
// PostgreSQL guidance

// pgTarget is where a PostgreSQL URL points, without its password, as
// pg_dump and pg_restore options.
type pgTarget struct {
	host, port, user, db, schema, sslmode string
}

// parsePGTarget reads the connection parameters of a postgres:// URL. The
// password is never read: guidance is printed, and may be pasted anywhere.
func parsePGTarget(raw string) pgTarget {
	u, err := url.Parse(raw)
	if err != nil {
		return pgTarget{}
	}
	q := u.Query()
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	t := pgTarget{
		host:    first(u.Hostname(), q.Get("host")),
		port:    first(u.Port(), q.Get("port")),
		db:      first(strings.TrimPrefix(u.Path, "/"), q.Get("dbname")),
		sslmode: q.Get("sslmode"),
	}
	if u.User != nil {
		t.user = u.User.Username()
	}
	t.user = first(t.user, q.Get("user"))
	// A search_path naming one schema is where ConnectHub's tables are.
	if sp := strings.TrimSpace(q.Get("search_path")); sp != "" && !strings.ContainsAny(sp, ", ") {
		t.schema = sp
	}
	return t
}

// args are the pg_dump/pg_restore options that select the database.
func (t pgTarget) args() []string {
	var args []string
	for _, o := range []struct{ flag, value string }{
		{"--host", t.host}, {"--port", t.port}, {"--username", t.user}, {"--dbname", t.db}, {"--schema", t.schema},
	} {
		if o.value != "" {
			args = append(args, o.flag+"="+shellQuote(o.value))
		}
	}
	return args
}

// envPrefix sets PGSSLMODE when the URL asks for a mode, since pg_dump has
// no option for it.
func (t pgTarget) envPrefix() string {
	if t.sslmode == "" {
		return ""
	}
	return "PGSSLMODE=" + shellQuote(t.sslmode) + " "
}

// printPGDumpGuidance tells how to back up a PostgreSQL database.
func printPGDumpGuidance(w io.Writer, dbURL, archive string, now time.Time) {
	t := parsePGTarget(dbURL)
	dump := "connecthub-" + now.UTC().Format("20060102T150405Z") + ".pgdump"
	fmt.Fprintln(w, "The database is PostgreSQL: back it up with pg_dump, which takes a consistent snapshot while the servers run:")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %spg_dump --format=custom --file=%s %s\n", t.envPrefix(), dump, strings.Join(t.args(), " "))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "pg_dump asks for the password or reads PGPASSWORD or ~/.pgpass (it is not shown here).")
	fmt.Fprintf(w, "Keep the dump together with %s: without that key file the dump's secrets cannot be decrypted.\n", archive)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
