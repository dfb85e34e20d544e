// Package httperr is the one place where ConnectHub's errors meet HTTP. The
// REST API and the admin UI both ask it which status an error answers with
// and what of the error a client may see, so a page and an API call that
// fail alike answer alike.
//
// It is a package of its own, rather than a function of the root package or
// an export of internal/httpapi, for two reasons: the root package is the
// domain that every layer imports (handlers, the client, the store drivers)
// and stays free of HTTP, and the admin UI must not depend on the API's
// handlers to render an error page.
package httperr

import (
	"errors"
	"net/http"

	"github.com/connecthub/connecthub"
)

// Status maps an error kind to its HTTP status. A kind it does not know,
// KindInternal included, is a 500: an error nobody classified is a bug
// until proven otherwise.
func Status(kind connecthub.Kind) int {
	switch kind {
	case connecthub.KindInvalid:
		return http.StatusBadRequest
	case connecthub.KindUnauthorized:
		return http.StatusUnauthorized
	case connecthub.KindForbidden:
		return http.StatusForbidden
	case connecthub.KindNotFound:
		return http.StatusNotFound
	case connecthub.KindConflict:
		return http.StatusConflict
	case connecthub.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case connecthub.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case connecthub.KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Public is what a client may see of an error.
type Public struct {
	// Status is the HTTP status to answer with.
	Status int
	// Code is the machine-readable code: the error's own, or its kind.
	Code string
	// Message is safe to show: an internal error's message is replaced by
	// "internal error", because it may carry SQL or a file path.
	Message string
	// Field names the offending input field, when there is one.
	Field string
	// Internal reports that err was not an expected *connecthub.Error, or
	// was one of KindInternal: the caller should log err with its cause,
	// since the client sees nothing of it.
	Internal bool
}

// Of returns what a client may see of err. An error that is not a
// *connecthub.Error is an internal error with code "internal".
func Of(err error) Public {
	var e *connecthub.Error
	if !errors.As(err, &e) {
		e = &connecthub.Error{Kind: connecthub.KindInternal, Code: "internal"}
	}
	p := Public{Status: Status(e.Kind), Code: e.Code, Message: e.Message, Field: e.Field}
	if p.Code == "" {
		p.Code = string(e.Kind)
	}
	if e.Kind == connecthub.KindInternal {
		p.Message, p.Internal = "internal error", true
	}
	return p
}
