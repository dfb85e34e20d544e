package connecthub

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it. The HTTP layer
// maps each kind to one status code in exactly one function, so packages
// below it never think about HTTP.
type Kind string

// The error kinds. Their string values are stable: they are the default
// `code` of API errors when no more specific code is given.
const (
	KindInvalid       Kind = "invalid"       // bad input: 400
	KindUnauthorized  Kind = "unauthorized"  // no or bad credentials: 401
	KindForbidden     Kind = "forbidden"     // credentials lack the right: 403
	KindNotFound      Kind = "not_found"     // 404
	KindConflict      Kind = "conflict"      // state does not allow it: 409
	KindTooLarge      Kind = "too_large"     // request body over the limit: 413
	KindUnprocessable Kind = "unprocessable" // well-formed but rejected: 422
	KindUnavailable   Kind = "unavailable"   // draining or database down: 503
	KindInternal      Kind = "internal"      // a bug or an unexpected failure: 500
)

// Error is the error type every layer returns for conditions a user should
// see. Code is a machine-readable identifier such as "invalid_cron"; Field
// names the offending input field, when there is one.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Field   string
	// Args are the names and numbers the message quotes (job ids, counts),
	// in the order the message gives them, so that a client that shows
	// errors in another language can say the same thing by Code without
	// parsing Message. Codes that carry them always carry the same number.
	Args []string
	// Err is an optional cause kept for logs; it is never shown to API clients.
	Err error
}

// Error implements the error interface with the field name first, because
// that is what a person reading a CLI message needs to fix their input.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a formatted message. The
// code defaults to the kind.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: string(kind), Message: fmt.Sprintf(format, args...)}
}

// FieldError returns a KindInvalid error for one input field. The code is
// "invalid_<field>" unless code is given.
func FieldError(field, code, format string, args ...any) *Error {
	if code == "" {
		code = "invalid_" + field
	}
	return &Error{Kind: KindInvalid, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorKind returns the kind of err, KindInternal for errors that are not an
// *Error (an unexpected failure is a bug until proven otherwise).
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err is an *Error of the given kind.
func IsKind(err error, kind Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}

// NotFound returns a KindNotFound error for a missing object.
func NotFound(what, id string) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Message: fmt.Sprintf("%s %q not found", what, id)}
}
