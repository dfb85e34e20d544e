package httpapi

import (
	"net/http"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/service"
)

// userRoutes registers the user routes: admins manage users; anyone
// signed in reads who it is and changes its own password.
func (a *API) userRoutes(api apiFunc) {
	api("GET /api/v1/users", connecthub.RoleAdmin, a.userList)
	api("POST /api/v1/users", connecthub.RoleAdmin, a.userCreate)
	api("GET /api/v1/users/{username}", connecthub.RoleAdmin, a.userGet)
	api("PATCH /api/v1/users/{username}", connecthub.RoleAdmin, a.userUpdate)
	api("GET /api/v1/me", connecthub.RoleViewer, a.me)
	api("POST /api/v1/me/password", connecthub.RoleViewer, a.mePassword)
}

func (a *API) userList(w http.ResponseWriter, r *http.Request) error {
	list, err := a.svc.UserList(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": list})
	return nil
}

func (a *API) userCreate(w http.ResponseWriter, r *http.Request) error {
	var in service.UserInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	u, err := a.svc.UserCreate(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (a *API) userGet(w http.ResponseWriter, r *http.Request) error {
	u, err := a.svc.UserGet(r.Context(), r.PathValue("username"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) userUpdate(w http.ResponseWriter, r *http.Request) error {
	var in service.UserPatch
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	u, err := a.svc.UserUpdate(r.Context(), r.PathValue("username"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// me answers who the request acts for, and with which role, so that a
// CLI or a script can show it before it tries something.
func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, connecthub.PrincipalFrom(r.Context()))
	return nil
}

// mePassword changes the signed-in user's own password; the current one
// is required.
func (a *API) mePassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := connecthub.PrincipalFrom(r.Context())
	if p.User == "" || p.BreakGlass {
		return &connecthub.Error{Kind: connecthub.KindForbidden, Code: "no_user",
			Message: "only a user has a password to change here; the admin token and the break-glass login are configured on the server"}
	}
	if err := a.svc.ChangeOwnPassword(r.Context(), p.User, in.Current, in.New); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
