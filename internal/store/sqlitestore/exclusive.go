package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/connecthub/connecthub"
)

// Exclusive is the sole use of a SQLite database file, held by
// OpenExclusive until Close. While it is held no other connection, in this
// process or another, can read or write the file, so it may be renamed or
// replaced (connecthub restore does both).
type Exclusive struct {
	db   *sql.DB
	conn *sql.Conn
}

// OpenExclusive opens the existing database file at path as its only user
// and keeps it that way until Close. It fails with KindConflict when any
// other connection has the file open, as a running `connecthub serve` (or
// a backup in progress) always does: SQLite connections in WAL mode hold a
// shared lock on the file for as long as they are open, which is exactly
// what OpenExclusive needs to be free of. KindNotFound if there is no file:
// it never creates one.
//
// On success the file is self-contained: the write-ahead log, including
// one left behind by a crashed process, is folded into it and removed, and
// the file is switched to rollback-journal mode, so that it can be copied
// or moved without a -wal file that belongs to it. The next Open switches
// it back to WAL.
func OpenExclusive(ctx context.Context, path string) (_ *Exclusive, err error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, connecthub.Errorf(connecthub.KindNotFound, "there is no SQLite database at %s", path)
	} else if err != nil {
		return nil, openErr(path, err)
	}
	q := url.Values{}
	// No waiting: a lock held by someone else is the answer, not a delay.
	q.Add("_pragma", "busy_timeout(0)")
	// Set before the first access, EXCLUSIVE makes SQLite take an
	// exclusive lock on the file as soon as it reads it, and keep every
	// lock it takes until the connection closes; for a WAL database it
	// also keeps the WAL index in private memory rather than in the -shm
	// file that other processes share.
	q.Add("_pragma", "locking_mode(EXCLUSIVE)")
	db, err := sql.Open(driverName, path+"?"+q.Encode())
	if err != nil {
		return nil, openErr(path, err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, exclusiveErr(path, err)
	}
	defer func() {
		if err != nil {
			conn.Close()
			db.Close()
		}
	}()
	// Leaving WAL mode checkpoints the whole log into the file and deletes
	// it; SQLite allows it only to a connection that is alone.
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode); err != nil {
		return nil, exclusiveErr(path, err)
	}
	if !strings.EqualFold(mode, "delete") {
		// SQLite answers with the mode it kept when it may not change it.
		return nil, inUseErr(path, fmt.Errorf("journal mode stayed %q", mode))
	}
	// The exclusive lock, held until Close: from now on nobody else even
	// reads the file.
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		return nil, exclusiveErr(path, err)
	}
	if info, err := os.Stat(path + "-wal"); err == nil && info.Size() > 0 {
		return nil, &connecthub.Error{Kind: connecthub.KindInternal, Code: "sqlite_wal",
			Message: fmt.Sprintf("the write-ahead log %s-wal is still there after a checkpoint", path)}
	}
	return &Exclusive{db: db, conn: conn}, nil
}

// exclusiveErr reports why a database could not be had alone: in use
// (KindConflict) or any other failure.
func exclusiveErr(path string, err error) error {
	if code := sqliteCode(err) & 0xff; code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED {
		return inUseErr(path, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return dbErr(err)
	}
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "sqlite_open",
		Message: fmt.Sprintf("cannot open SQLite database %s alone", path), Err: err}
}

func inUseErr(path string, err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "db_in_use",
		Message: fmt.Sprintf("the SQLite database %s is in use by another process or connection "+
			"(is `connecthub serve` running on it?); stop it first", path),
		Err: err}
}

// Close ends the exclusive use: the lock is released and the connection
// closed. It writes nothing. It is safe to call more than once.
func (e *Exclusive) Close() error {
	if e == nil || e.db == nil {
		return nil
	}
	// The transaction only ever read, so rolling it back loses nothing.
	_, rbErr := e.conn.ExecContext(context.Background(), "ROLLBACK")
	err := errors.Join(rbErr, e.conn.Close(), e.db.Close())
	e.db, e.conn = nil, nil
	return err
}
