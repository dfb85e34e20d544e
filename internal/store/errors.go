package store

import (
	"context"
	"errors"

	"github.com/connecthub/connecthub"
)

// The errors a driver returns for database failures. Their messages are
// safe to show a user: they never contain SQL text or server detail, which
// stay in Err for logs. A driver classifies its database's error codes and
// picks one of these, so that the same failure reads the same whichever
// database is behind the store.

// MappedDBError handles what every driver's mapping begins with: nil stays
// nil, a *connecthub.Error passes unchanged, and a canceled or timed-out
// context is DBCanceled. ok is false when the driver must classify err
// itself.
func MappedDBError(err error) (mapped error, ok bool) {
	if err == nil {
		return nil, true
	}
	var ce *connecthub.Error
	if errors.As(err, &ce) {
		return err, true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return DBCanceled(err), true
	}
	return nil, false
}

// DBCanceled: the operation was canceled or timed out.
func DBCanceled(err error) error {
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "canceled",
		Message: "the database operation was canceled or timed out", Err: err}
}

// DBClosed: the store was closed.
func DBClosed(err error) error {
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "db_closed",
		Message: "the database is closed", Err: err}
}

// DBConflict: a unique key is taken.
func DBConflict(err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "conflict",
		Message: "the object already exists", Err: err}
}

// DBMissingReference: a foreign key names nothing.
func DBMissingReference(err error) error {
	return &connecthub.Error{Kind: connecthub.KindNotFound, Code: "not_found",
		Message: "the referenced object does not exist", Err: err}
}

// DBBusy: a lock or serialization conflict; the caller may try again.
func DBBusy(err error) error {
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "db_busy",
		Message: "the database is busy; try again", Err: err}
}

// The codes of the two ways a database can fail the whole store rather
// than one statement. /health/ready answers them as its status.
const (
	// CodeDBUnavailable: the database cannot be reached (refused or lost
	// connection, shutting down, too many connections).
	CodeDBUnavailable = "db_unavailable"
	// CodeStorageError: the database answers but cannot write (disk full,
	// read-only, I/O error).
	CodeStorageError = "storage_error"
)

// DBUnavailable: the database cannot be reached.
func DBUnavailable(err error) error {
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: CodeDBUnavailable,
		Message: "the database is unavailable", Err: err}
}

// DBStorage: the database answers but refuses writes (disk full, read-only
// or I/O error); nothing written can be stored until an operator frees
// space or makes the database writable again.
func DBStorage(err error) error {
	return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: CodeStorageError,
		Message: "the database cannot be written (disk full, read-only or I/O error)", Err: err}
}

// StoreFailure returns CodeDBUnavailable or CodeStorageError when err says
// the database as a whole is failing, and "" for any other error (nil, a
// conflict, a busy lock, a canceled context), which says nothing about the
// store's health.
func StoreFailure(err error) string {
	var ce *connecthub.Error
	if errors.As(err, &ce) && (ce.Code == CodeDBUnavailable || ce.Code == CodeStorageError) {
		return ce.Code
	}
	return ""
}

// DBInternal: any other database failure.
func DBInternal(err error) error {
	return &connecthub.Error{Kind: connecthub.KindInternal, Code: "db_error",
		Message: "database error", Err: err}
}
