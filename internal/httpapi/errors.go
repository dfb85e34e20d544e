package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/connecthub/connecthub"
)

// statusOf maps an error kind to its HTTP status. It is the one place where
// ConnectHub's errors meet HTTP (DESIGN habit 6).
func statusOf(kind connecthub.Kind) int {
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

// errorBody is the JSON shape of every API error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError writes err as a JSON error. Errors that are not a
// *connecthub.Error are unexpected: they are logged with their cause and the
// client sees only "internal error", so no SQL or file path leaks out.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *connecthub.Error
	if !errors.As(err, &e) {
		e = &connecthub.Error{Kind: connecthub.KindInternal, Code: "internal", Message: "internal error", Err: err}
	}
	status := statusOf(e.Kind)
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	msg := e.Message
	if e.Kind == connecthub.KindInternal {
		msg = "internal error"
	}
	code := e.Code
	if code == "" {
		code = string(e.Kind)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg, Field: e.Field}})
}

// writeJSON writes v with the status code.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func invalid(field, format string, args ...any) error {
	return connecthub.FieldError(field, "", format, args...)
}
