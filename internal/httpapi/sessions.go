package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/connecthub/connecthub"
)

// SessionStore lists and revokes the admin UI's sessions; the store
// implements it.
type SessionStore interface {
	SessionList(ctx context.Context, now time.Time) ([]*connecthub.Session, error)
	SessionRevoke(ctx context.Context, id string, now time.Time) error
}

// sessionRoutes registers the session routes (admin scope only, like every
// route outside /api/v1/worker): an operator who suspects a stolen cookie
// sees every live login and ends the one they do not recognise.
func (a *API) sessionRoutes(api func(string, func(http.ResponseWriter, *http.Request) error)) {
	api("GET /api/v1/sessions", a.sessionList)
	api("DELETE /api/v1/sessions/{id}", a.sessionRevoke)
}

func (a *API) sessionsEnabled() error {
	if a.cfg.SessionStore == nil {
		return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "sessions_disabled", Message: "admin UI sessions are not enabled on this server"}
	}
	return nil
}

// sessionList answers the live sessions, newest first. A session's
// cookie secret is never stored, so it cannot be shown.
func (a *API) sessionList(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsEnabled(); err != nil {
		return err
	}
	list, err := a.cfg.SessionStore.SessionList(r.Context(), time.Now())
	if err != nil {
		return err
	}
	if list == nil {
		list = []*connecthub.Session{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
	return nil
}

// sessionRevoke ends a session at once on every replica: its cookie is
// refused from the next request on.
func (a *API) sessionRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsEnabled(); err != nil {
		return err
	}
	if err := a.cfg.SessionStore.SessionRevoke(r.Context(), r.PathValue("id"), time.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
