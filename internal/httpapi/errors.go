package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/httperr"
)

// errorBody is the JSON shape of every API error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError writes err as a JSON error, with the status and the visible
// parts that httperr.Of gives, the mapping the admin UI shares. A 5xx is
// logged with its cause, because the client sees only "internal error" (no
// SQL or file path leaks out) or a short "unavailable" message.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := httperr.Of(err)
	if p.Status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	}
	writeJSON(w, p.Status, errorBody{Error: errorDetail{Code: p.Code, Message: p.Message, Field: p.Field}})
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
