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
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// Restore restores the archive in into the configured installation: with
// SQLite it replaces the database and the key file (only with force when
// they exist); with PostgreSQL it prints the pg_restore steps.
func Restore(ctx context.Context, std Streams, cfg *config.Config, in string, force bool) error {
	if strings.TrimSpace(in) == "" {
		return errors.New("no archive named")
	}
	switch cfg.DBDriver() {
	case config.DriverPostgres:
		return restorePostgres(std, cfg, in)
	case config.DriverSQLite:
		return restoreSQLite(ctx, std, cfg, in, force)
	default:
		return fmt.Errorf("CONNECTHUB_DB_URL: unsupported database %q", cfg.DBDriver())
	}
}

// restoreSQLite replaces the database and the key file with the archive's,
// after checking everything that can be checked: nothing is touched until
// the archive is whole, its key decrypts all its secrets, and no process
// has the database open.
func restoreSQLite(ctx context.Context, std Streams, cfg *config.Config, in string, force bool) error {
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
	fmt.Fprintf(std.Stdout, "restored %s%s: %s, %s, %s, all decrypted with its key\n", in, made,
		plural(int(info.jobs), "job"), plural(int(info.runs), "run"), plural(info.census.total(), "secret"))
	fmt.Fprintf(std.Stdout, "database: %s\nkey file: %s\n", dbPath, keyPath)
	for _, m := range moved {
		fmt.Fprintln(std.Stdout, m)
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
func restorePostgres(std Streams, cfg *config.Config, in string) error {
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
	w := std.Stdout
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
