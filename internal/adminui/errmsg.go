package adminui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/connecthub/connecthub"
)

// errorText returns what a page shows for a service error in the request's
// language. The service's messages are English, so each code has a text of
// its own in every catalog ("errors.<code>"), formatted with the names the
// error carries in Args (the job, the jobs that chain to it, the counts).
// An error whose code has no text, or that carries other names than its
// text takes, still gets a translated message: a field's error names the
// field, anything else names its code, so that support can look it up.
func (u *UI) errorText(r *http.Request, err error) string {
	return errorTextIn(u.pages.catalogs[pickLanguage(r)], err)
}

// errorTextIn is errorText in the language of cat.
func errorTextIn(cat catalog, err error) string {
	var e *connecthub.Error
	if !errors.As(err, &e) || e.Kind == connecthub.KindInternal {
		return cat.T("errors.internal")
	}
	code := e.Code
	if code == "" {
		code = string(e.Kind)
	}
	if text, ok := cat["errors."+code]; ok && strings.Count(text, "%s") == len(e.Args) {
		args := make([]any, len(e.Args))
		for i, a := range e.Args {
			args[i] = a
		}
		return cat.T("errors."+code, args...)
	}
	if e.Field != "" && strings.HasPrefix(code, "invalid_") {
		return cat.T("errors.field_invalid", e.Field)
	}
	return cat.T("errors.unknown", code)
}
