package didi

import (
	"fmt"
	"net/http"
)

// HTTPError is an answer with an unexpected HTTP status or one that is not
// a well-formed envelope.
type HTTPError struct {
	// Op names the call, e.g. "didi: GET /river/Member/detail".
	Op string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Detail says what was wrong beyond the status, when anything.
	Detail string
	// Snippet is the start of the answer's body, on one line, with secrets
	// and tokens masked.
	Snippet string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d", e.Op, e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		msg += " " + text
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Snippet != "" {
		msg += ": " + e.Snippet
	}
	return msg
}

// APIError is an envelope with a non-zero errno.
type APIError struct {
	// Op names the call.
	Op string
	// Errno and Errmsg are the envelope's.
	Errno  int64
	Errmsg string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: errno %d: %s", e.Op, e.Errno, e.Errmsg)
}

// AuthError is a failure to obtain a usable access token: the authorize
// call failed (wrong credentials or signature, an unreachable server), or a
// call was rejected with 401 even after a fresh authorization. Nothing
// else will work until it is fixed, so callers usually stop at it. Its
// message is the cause's, which names the failing call.
type AuthError struct {
	Err error
}

func (e *AuthError) Error() string { return e.Err.Error() }

func (e *AuthError) Unwrap() error { return e.Err }
