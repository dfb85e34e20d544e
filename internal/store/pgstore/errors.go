package pgstore

import (
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// PostgreSQL error codes (SQLSTATE) the driver tells apart.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
	codeLockNotAvailable    = "55P03"
	codeQueryCanceled       = "57014"
	codeUndefinedTable      = "42P01"
	codeInvalidSchemaName   = "3F000"
	// The database refuses writes: storage errors, not an outage.
	codeDiskFull            = "53100"
	codeReadOnlyTransaction = "25006"
	codeIOError             = "58030"
)

// dbErr turns a database error into a *connecthub.Error whose message is
// safe to show a user: it never contains SQL text or server detail, which
// stay in Err for logs. An error that already is a *connecthub.Error passes
// unchanged.
func dbErr(err error) error {
	if mapped, ok := store.MappedDBError(err); ok {
		return mapped
	}
	switch {
	case errors.Is(err, puddle.ErrClosedPool), errors.Is(err, errStoreClosed):
		return store.DBClosed(err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case code == codeUniqueViolation:
			return store.DBConflict(err)
		case code == codeForeignKeyViolation:
			return store.DBMissingReference(err)
		case code == codeSerialization, code == codeDeadlock, code == codeLockNotAvailable:
			return store.DBBusy(err)
		case code == codeQueryCanceled:
			return store.DBCanceled(err)
		case code == codeUndefinedTable, code == codeInvalidSchemaName:
			return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "db_schema",
				Message: "the database schema is missing; run `connecthub migrate`", Err: err}
		case strings.HasPrefix(code, "22"):
			// Data exceptions: a value the column type refuses (a NUL byte,
			// invalid UTF-8, a number out of range).
			return &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_value",
				Message: "a value cannot be stored (out of range, or text with NUL characters or invalid UTF-8)", Err: err}
		case code == codeDiskFull, code == codeReadOnlyTransaction, code == codeIOError:
			return store.DBStorage(err)
		case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57"):
			// Connection exceptions, other insufficient resources (too
			// many connections, out of memory), operator intervention
			// (shutdown).
			return store.DBUnavailable(err)
		}
		return store.DBInternal(err)
	}
	if isConnError(err) {
		return store.DBUnavailable(err)
	}
	return store.DBInternal(err)
}

// isConnError reports whether err says the connection (not the statement)
// failed: the server could not be reached, or went away.
func isConnError(err error) bool {
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, net.ErrClosed)
}

// isCode reports whether err is a PostgreSQL error with the given SQLSTATE.
func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// notFound maps pgx.ErrNoRows to a not-found error for the object.
func notFound(err error, what, id string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return connecthub.NotFound(what, id)
	}
	return dbErr(err)
}

// errStoreClosed is the cause of the error every method returns after Close.
var errStoreClosed = errors.New("pgstore: the store is closed")
