package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// driverName is the database/sql name modernc.org/sqlite registers.
const driverName = "sqlite"

func init() {
	// sqlx knows the bind style of mattn's "sqlite3" but not of modernc's
	// "sqlite"; without this, Rebind and In would leave "?" alone by luck
	// rather than by design.
	sqlx.BindDriver(driverName, sqlx.QUESTION)
}

// Options tunes the driver. The zero value is the production default.
type Options struct {
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before failing with SQLITE_BUSY. 0 means 10s.
	BusyTimeout time.Duration
	// ReadConns is the size of the reader pool. 0 means 4.
	ReadConns int
}

func (o Options) withDefaults() Options {
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.ReadConns == 0 {
		o.ReadConns = 4
	}
	return o
}

func (o Options) validate() error {
	if o.BusyTimeout < 0 {
		return connecthub.FieldError("busy_timeout", "", "busy timeout must not be negative")
	}
	if o.ReadConns < 0 {
		return connecthub.FieldError("read_conns", "", "read connections must not be negative")
	}
	return nil
}

// Store is the SQLite implementation of store.Store. It is safe for
// concurrent use.
//
// It holds two pools on the same file: one writer connection, through which
// every write transaction goes (BEGIN IMMEDIATE), and a pool of read-only
// connections that WAL lets read a committed snapshot while the writer works.
// Serialising writers in-process costs nothing SQLite would not serialise
// anyway, and it removes SQLITE_BUSY from the write path entirely.
type Store struct {
	store.Hub

	w *sqlx.DB // exactly one connection: all writes
	r *sqlx.DB // query_only connections: all reads outside a write

	path string
	opts Options

	ids   store.IDGen
	stmts stmtCache

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database file at path, applies
// the pragmas, runs the migrations, and returns the store. Close it when done.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	w, err := openWriter(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	if _, err := migrate(ctx, w.DB); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sqlx.Open(driverName, dsn(path, opts, roleReader))
	if err != nil {
		w.Close()
		return nil, openErr(path, err)
	}
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, openErr(path, err)
	}
	s := &Store{w: w, r: r, path: path, opts: opts}
	s.stmts.init(w)
	for _, q := range []string{countUpsertSQL, hourlyUpsertSQL, alertWantsSQL, alertEventsInsertSQL} {
		if _, _, err := s.stmts.prepare(ctx, q); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Migrate runs the embedded migrations on the database file at path
// (creating it if needed) and returns the versions it applied, none when the
// schema is already current. Open does the same; this is for `connecthub
// migrate`, which wants to report what it did.
func Migrate(ctx context.Context, path string) ([]int64, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	w, err := openWriter(ctx, path, Options{}.withDefaults())
	if err != nil {
		return nil, err
	}
	defer w.Close()
	return migrate(ctx, w.DB)
}

func checkPath(path string) error {
	if strings.TrimSpace(path) == "" {
		return connecthub.FieldError("path", "", "the SQLite database path is empty")
	}
	if strings.Contains(path, "?") {
		// A '?' would start the DSN's parameters and silently drop ours.
		return connecthub.FieldError("path", "", "the SQLite database path %q must not contain '?'", path)
	}
	if strings.HasPrefix(path, "file:") {
		return connecthub.FieldError("path", "", "give the SQLite database as a file path, not a file: URI")
	}
	return nil
}

// openWriter opens the single writer connection and checks that the file
// really is in WAL mode (a read-only directory, say, fails here with a clear
// message rather than on the first write).
func openWriter(ctx context.Context, path string, opts Options) (*sqlx.DB, error) {
	w, err := sqlx.Open(driverName, dsn(path, opts, roleWriter))
	if err != nil {
		return nil, openErr(path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	var mode string
	if err := w.GetContext(ctx, &mode, "PRAGMA journal_mode"); err != nil {
		w.Close()
		return nil, openErr(path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "sqlite_open",
			Message: fmt.Sprintf("SQLite database %s could not be switched to WAL mode (it is in %q mode)", path, mode)}
	}
	return w, nil
}

// role says what a connection is for; it decides the DSN's extras.
type role int

const (
	roleWriter role = iota // the single writer: IMMEDIATE transactions, sets WAL
	roleReader             // the read pool: query_only
	roleBackup             // a one-off connection for VACUUM INTO
)

// writerCacheSize is the writer's cache_size (KiB when negative); see dsn.
const writerCacheSize = "-4096"

// dsn builds the modernc DSN. Pragmas go in _pragma parameters so that every
// connection the pool opens (including after a reconnect) gets them.
func dsn(path string, opts Options, r role) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "temp_store(MEMORY)")
	switch r {
	case roleWriter:
		// 4 MiB of page cache on the writer: the hot part of the queue
		// (the claim index, the recent rows, the indexes' right edges)
		// stays in memory. A larger cache costs the writer CPU at every
		// commit: when a B-tree split reorders its new pages, SQLite
		// renumbers one page through a temporary number past the pending
		// byte (page 262,145), which the page cache keeps as its highest
		// key, so the commit that follows walks the cache's whole hash
		// table (one slot per cached page) to drop pages past the end of
		// the file. Nearly every commit of the queue splits an index page:
		// with 16 MiB the walk was 4,096 slots a commit, 7% of a node's CPU
		// with 50 workers (docs/benchmarks-sqlite.md).
		q.Add("_pragma", "cache_size("+writerCacheSize+")")
		// journal_mode is persistent in the file; the writer sets it so the
		// readers, which may not write, never have to.
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	case roleReader:
		// 16 MiB per reader: the history reads (lists, stats) walk more
		// pages than the queue's writes, and a reader never commits.
		q.Add("_pragma", "cache_size(-16384)")
		q.Add("_pragma", "query_only(1)")
	case roleBackup:
		q.Add("_pragma", "cache_size(-16384)")
		// VACUUM INTO writes the destination file, which query_only
		// forbids; it only reads this database.
	}
	// A plain path, not a file: URI, so SQLite takes it verbatim ('%' and
	// '#' are ordinary characters); modernc cuts the parameters at the '?'.
	return path + "?" + q.Encode()
}

// openErr is the error of a database that could not be opened. Its message
// names the cause underneath, because "cannot open" alone leaves an
// operator guessing between a corrupt file, a permission and a typo.
func openErr(path string, err error) error {
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "sqlite_open",
		Message: fmt.Sprintf("cannot open SQLite database %s: %s", path, openCause(path, err)), Err: err}
}

// openCause says why SQLite could not open path. SQLite answers "unable to
// open database file" for a directory, a missing directory and a missing
// permission alike, so the file system is asked first; what SQLite says
// (e.g. "file is not a database") is the answer when the file itself is
// fine.
func openCause(path string, err error) string {
	info, statErr := os.Stat(path)
	switch {
	case statErr == nil && info.IsDir():
		return "it is a directory"
	case errors.Is(statErr, fs.ErrNotExist):
		if _, dirErr := os.Stat(filepath.Dir(path)); errors.Is(dirErr, fs.ErrNotExist) {
			return fmt.Sprintf("the directory %s does not exist", filepath.Dir(path))
		}
	case statErr != nil:
		return pathCause(statErr)
	default:
		f, rwErr := os.OpenFile(path, os.O_RDWR, 0)
		if rwErr != nil {
			return pathCause(rwErr)
		}
		f.Close()
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// The message ends with the numeric code, " (26)", which helps
		// nobody reading it.
		msg := se.Error()
		if i := strings.LastIndex(msg, " ("); i > 0 && strings.HasSuffix(msg, ")") {
			msg = msg[:i]
		}
		return msg
	}
	return err.Error()
}

// pathCause is the operating system's reason of a file error without the
// path, which the message names already.
func pathCause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Ping implements store.Store: both pools must answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return dbErr(err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return dbErr(err)
	}
	return nil
}

// Close implements store.Store. It is safe to call more than once; later
// calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stmts.close()
		s.closeErr = errors.Join(s.r.Close(), s.w.Close())
	})
	return s.closeErr
}

// Backup writes a consistent snapshot of the database to dest with VACUUM
// INTO. It runs on a connection of its own, inside one read transaction, so
// the snapshot is consistent and writers are not held up while it is
// written. dest must not exist yet: a backup never overwrites anything.
func (s *Store) Backup(ctx context.Context, dest string) error {
	if strings.TrimSpace(dest) == "" {
		return connecthub.FieldError("dest", "", "the backup destination is empty")
	}
	if _, err := os.Stat(dest); err == nil {
		return &connecthub.Error{Kind: connecthub.KindConflict, Code: "backup_exists",
			Message: fmt.Sprintf("backup destination %s already exists; choose a new file", dest)}
	} else if !errors.Is(err, os.ErrNotExist) {
		return &connecthub.Error{Kind: connecthub.KindInvalid, Code: "backup_dest",
			Message: fmt.Sprintf("cannot use backup destination %s", dest), Err: err}
	}
	db, err := sql.Open(driverName, dsn(s.path, s.opts, roleBackup))
	if err != nil {
		return openErr(s.path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dest); err != nil {
		if ctx.Err() != nil {
			return dbErr(ctx.Err())
		}
		return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "backup_failed",
			Message: fmt.Sprintf("backup to %s failed (check that its directory exists and has space)", dest), Err: err}
	}
	return nil
}

// write runs fn in one write transaction on the writer connection. fn's
// error is returned unchanged (callers map database errors with dbErr), so
// that an error from a caller's callback reaches the caller as it was.
func (s *Store) write(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.w.BeginTxx(ctx, nil)
	if err != nil {
		return dbErr(err)
	}
	// Rollback after Commit is a no-op; on every other path (an error or a
	// panic in fn) it releases the only writer connection.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	// The audit entry of the change, when the caller gave one, commits
	// with it or not at all.
	audit, done := store.AuditToWrite(ctx)
	if audit != nil {
		if err := insertAudit(ctx, tx, audit); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return dbErr(err)
	}
	done()
	return nil
}

// inTx is write as the rules layer takes it (store.Modify and friends),
// with the errors that are not yet mapped mapped by dbErr.
func (s *Store) inTx(ctx context.Context) store.InTx[*sqlx.Tx] {
	return func(fn func(*sqlx.Tx) error) error { return dbErr(s.write(ctx, fn)) }
}

// read runs fn in one read transaction on the reader pool, so that the
// queries in fn see one consistent snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.r.BeginTxx(ctx, nil)
	if err != nil {
		return dbErr(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return nil
}

// stmtCache keeps prepared statements of the writer connection by query
// text, so hot paths (claim, complete, insert) skip SQLite's parse and plan
// on every call. The number of distinct texts is small (they vary only by
// batch size and the length of IN lists) and capped in case it is not.
//
// Statements must be prepared before the write transaction begins: the
// writer pool has one connection, which the transaction would be holding.
// Inside the transaction, tx.StmtxContext reuses the statement already
// prepared on that connection.
type stmtCache struct {
	db *sqlx.DB
	mu sync.Mutex
	m  map[string]*sqlx.Stmt
}

const maxCachedStmts = 256

// prepare returns a statement for query and a function to call when done
// with it (which closes it only if it was too many to cache).
func (c *stmtCache) prepare(ctx context.Context, query string) (*sqlx.Stmt, func(), error) {
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return st, func() {}, nil
	}
	st, err := c.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, nil, dbErr(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		st.Close()
		return prev, func() {}, nil
	}
	if c.m == nil || len(c.m) >= maxCachedStmts {
		// Closed store (m is nil after close) or a full cache: hand out a
		// one-off statement.
		return st, func() { st.Close() }, nil
	}
	c.m[query] = st
	return st, func() {}, nil
}

// cached returns the statement of query if it is in the cache, without
// preparing it: for callers inside a write transaction, which holds the
// writer connection a prepare would wait for.
func (c *stmtCache) cached(query string) (*sqlx.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.m[query]
	return st, ok
}

func (c *stmtCache) init(db *sqlx.DB) {
	c.db = db
	c.m = make(map[string]*sqlx.Stmt)
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

var _ scanner = (*sql.Row)(nil)

// ConnectionsInUse reports the database connections in use right now, for
// the connecthub_db_connections_active metric: the writer's and the
// readers'.
func (s *Store) ConnectionsInUse() int {
	return s.w.Stats().InUse + s.r.Stats().InUse
}
