package sqlitestore

import (
	"database/sql"
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// dbErr turns a database error into a *connecthub.Error whose message is
// safe to show a user; the driver's error (with its SQL text) is kept in Err
// for logs. An error that already is a *connecthub.Error passes unchanged.
func dbErr(err error) error {
	if mapped, ok := store.MappedDBError(err); ok {
		return mapped
	}
	switch {
	case errors.Is(err, sql.ErrConnDone), isClosed(err):
		return store.DBClosed(err)
	}
	switch code := sqliteCode(err); {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.DBConflict(err)
	case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.DBMissingReference(err)
	case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED:
		return store.DBBusy(err)
	case code&0xff == sqlite3.SQLITE_FULL, code&0xff == sqlite3.SQLITE_IOERR,
		code&0xff == sqlite3.SQLITE_READONLY:
		return store.DBStorage(err)
	case code&0xff == sqlite3.SQLITE_CANTOPEN:
		return store.DBUnavailable(err)
	}
	return store.DBInternal(err)
}

// sqliteCode returns the extended result code of a SQLite error, 0 for
// other errors.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func isClosed(err error) bool {
	// database/sql reports use after Close with an unexported error value.
	return err != nil && err.Error() == "sql: database is closed"
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUniqueViolation(err error) bool {
	code := sqliteCode(err)
	return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKeyViolation reports whether err is a FOREIGN KEY violation.
func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// notFound maps sql.ErrNoRows to a not-found error for the object.
func notFound(err error, what, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return connecthub.NotFound(what, id)
	}
	return dbErr(err)
}
