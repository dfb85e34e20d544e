package seeyon

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrLogin is wrapped by the errors of a failed login (wrong credentials,
// an answer without a token), so callers can tell a configuration problem
// from a failing call.
var ErrLogin = errors.New("login failed")

// ErrTokenRejected is wrapped by the error of a call whose token was
// rejected even after a fresh login: typically a REST user without the
// permission for that call, or a loginName the OA does not know.
var ErrTokenRejected = errors.New("token rejected again after a fresh login")

// HTTPError is an answer with an unexpected HTTP status, or a rejection of
// the token.
type HTTPError struct {
	// Op names the call, e.g. "seeyon: POST /seeyon/rest/token".
	Op string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Snippet is the start of the answer's body, on one line, with the
	// password and tokens masked.
	Snippet string
	// Err is ErrLogin, ErrTokenRejected or nil.
	Err error
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d", e.Op, e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		msg += " " + text
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Snippet != "" {
		msg += ": " + e.Snippet
	}
	return msg
}

func (e *HTTPError) Unwrap() error { return e.Err }

// APIError is an answer with a 2xx status whose JSON body reports a failure
// in its "code" (see ResultError).
type APIError struct {
	// Code is the body's "code" as text.
	Code string
	// Message is the body's "message" (or "msg").
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return "seeyon: the OA answered code " + e.Code
	}
	return fmt.Sprintf("seeyon: the OA answered code %s: %s", e.Code, e.Message)
}
