package httpapi

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/connecthub/connecthub"
)

// SessionStore lists and revokes the admin UI's sessions; the store
// implements it.
type SessionStore interface {
	SessionList(ctx context.Context, now time.Time) ([]*connecthub.Session, error)
	SessionRevoke(ctx context.Context, id string, now time.Time) error
}

// sessionRoutes registers the session routes: an admin who suspects a
// stolen cookie sees every live login and ends the one they do not
// recognise; anyone else sees and ends its own.
func (a *API) sessionRoutes(api apiFunc) {
	api("GET /api/v1/sessions", connecthub.RoleViewer, a.sessionList)
	api("DELETE /api/v1/sessions/{id}", connecthub.RoleViewer, a.sessionRevoke)
}

// visibleSessions is what p may see of the live sessions: an admin all,
// anyone else its own (a break-glass login belongs to no user).
func visibleSessions(p *connecthub.Principal, all []*connecthub.Session) []*connecthub.Session {
	out := []*connecthub.Session{}
	for _, s := range all {
		if p.Allows(connecthub.RoleAdmin) || (p.User != "" && !p.BreakGlass && s.User == p.User && !s.BreakGlass) {
			out = append(out, s)
		}
	}
	return out
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
	list = visibleSessions(connecthub.PrincipalFrom(r.Context()), list)
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
	return nil
}

// sessionRevoke ends a session at once on every replica: its cookie is
// refused from the next request on.
func (a *API) sessionRevoke(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsEnabled(); err != nil {
		return err
	}
	id := r.PathValue("id")
	if p := connecthub.PrincipalFrom(r.Context()); !p.Allows(connecthub.RoleAdmin) {
		list, err := a.cfg.SessionStore.SessionList(r.Context(), time.Now())
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(visibleSessions(p, list), func(s *connecthub.Session) bool { return s.ID == id }) {
			return connecthub.NotFound("session", id)
		}
	}
	if err := a.cfg.SessionStore.SessionRevoke(a.svc.Audited(r.Context(), "session.revoke", "session:"+id), id, time.Now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
