package adminui

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/service"
)

// This file serves the people pages: the users list (admins add users,
// set roles, disable and enable them) and "my account" (anyone signed in
// changes its password, makes and revokes its personal API tokens and
// ends its own sessions).

// AccountTokens makes, lists and revokes API tokens; *token.Service
// implements it.
type AccountTokens interface {
	CreateFor(ctx context.Context, name, scope string, queues []string, nodePrefix, owner string) (*connecthub.Token, string, error)
	List(ctx context.Context) ([]*connecthub.Token, error)
	Revoke(ctx context.Context, idOrName string) error
}

// SessionLister lists the live sessions; the store implements it.
type SessionLister interface {
	SessionList(ctx context.Context, now time.Time) ([]*connecthub.Session, error)
}

func (u *UI) userRoutes(p func(string, connecthub.Role, http.HandlerFunc)) {
	const viewer, admin = connecthub.RoleViewer, connecthub.RoleAdmin
	p("GET "+Prefix+"/account", viewer, u.account)
	p("POST "+Prefix+"/account/password", viewer, u.accountPassword)
	p("POST "+Prefix+"/account/tokens", viewer, u.accountTokenCreate)
	p("POST "+Prefix+"/account/tokens/{id}/revoke", viewer, u.accountTokenRevoke)
	p("POST "+Prefix+"/account/sessions/{id}/revoke", viewer, u.accountSessionRevoke)
	p("GET "+Prefix+"/users", admin, u.userList)
	p("POST "+Prefix+"/users", admin, u.userCreate)
	p("POST "+Prefix+"/users/{username}/role", admin, u.userSetRole)
	p("POST "+Prefix+"/users/{username}/disable", admin, u.userSetDisabled(true))
	p("POST "+Prefix+"/users/{username}/enable", admin, u.userSetDisabled(false))
	p("POST "+Prefix+"/users/{username}/oidc-link", admin, u.userAllowOIDCLink)
}

// accountView is the data of the "my account" page.
type accountView struct {
	Principal *connecthub.Principal
	User      *connecthub.User // nil for the break-glass login
	Tokens    []*connecthub.Token
	Sessions  []*connecthub.Session
	Current   string // this browser's session id
	// NewToken is a token made just now, with its secret, shown once.
	NewToken       *connecthub.Token
	NewTokenSecret string
	Error          string
	Loc            *time.Location
}

// account shows the signed-in user's account.
func (u *UI) account(w http.ResponseWriter, r *http.Request) {
	u.showAccount(w, r, http.StatusOK, accountView{})
}

func (u *UI) showAccount(w http.ResponseWriter, r *http.Request, status int, av accountView) {
	p := principalOf(r)
	av.Principal, av.Loc, av.Current = p, u.defLoc, sessionOf(r).ID
	if !p.BreakGlass {
		usr, err := u.svc.UserGet(r.Context(), p.User)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		av.User = usr
		if u.cfg.Tokens != nil {
			all, err := u.cfg.Tokens.List(r.Context())
			if err != nil {
				u.fail(w, r, err)
				return
			}
			for _, t := range all {
				if t.Scope == connecthub.ScopeUser && t.Owner == p.User && t.RevokedAt == nil {
					av.Tokens = append(av.Tokens, t)
				}
			}
		}
	}
	if u.cfg.SessionList != nil {
		all, err := u.cfg.SessionList.SessionList(r.Context(), u.now())
		if err != nil {
			u.fail(w, r, err)
			return
		}
		for _, s := range all {
			if s.User == p.User && s.BreakGlass == p.BreakGlass {
				av.Sessions = append(av.Sessions, s)
			}
		}
	}
	u.render(w, r, status, "account", u.page(w, r, "account", "users.account.title", av))
}

// formError turns a service error into the message a form shows: the
// catalog's text for the errors people make, the error's own otherwise.
func (u *UI) formError(r *http.Request, err error) (string, bool) {
	var ce *connecthub.Error
	if !errors.As(err, &ce) || ce.Kind == connecthub.KindInternal || ce.Kind == connecthub.KindUnavailable {
		return "", false
	}
	switch ce.Code {
	case "password_too_short", "password_too_long", "wrong_password", "user_exists", "invalid_username", "invalid_role", "token_exists", "invalid_name":
		return u.tr(r, "users.error."+ce.Code), true
	}
	return u.errorText(r, err), true
}

func (u *UI) accountPassword(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if p.BreakGlass {
		u.renderError(w, r, http.StatusForbidden, "users.error.break_glass", "")
		return
	}
	if r.PostFormValue("new_password") != r.PostFormValue("confirm_password") {
		u.showAccount(w, r, http.StatusUnprocessableEntity, accountView{Error: u.tr(r, "users.error.mismatch")})
		return
	}
	err := u.svc.ChangeOwnPassword(r.Context(), p.User, r.PostFormValue("current_password"), r.PostFormValue("new_password"))
	if msg, ok := u.formError(r, err); ok {
		u.showAccount(w, r, http.StatusUnprocessableEntity, accountView{Error: msg})
		return
	} else if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "users.flash.password_changed", "")
	redirect(w, r, Prefix+"/account")
}

// accountTokenCreate makes a personal token and shows its secret on the
// page it answers with, once: it is not stored, so a reload cannot show
// it again.
func (u *UI) accountTokenCreate(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if p.BreakGlass || u.cfg.Tokens == nil {
		u.renderError(w, r, http.StatusForbidden, "users.error.break_glass", "")
		return
	}
	name := r.PostFormValue("name")
	t, secret, err := u.cfg.Tokens.CreateFor(u.svc.Audited(r.Context(), "token.create", "token:"+strings.TrimSpace(name)), name, connecthub.ScopeUser, nil, "", p.User)
	if msg, ok := u.formError(r, err); ok {
		u.showAccount(w, r, http.StatusUnprocessableEntity, accountView{Error: msg})
		return
	} else if err != nil {
		u.fail(w, r, err)
		return
	}
	u.showAccount(w, r, http.StatusCreated, accountView{NewToken: t, NewTokenSecret: secret})
}

func (u *UI) accountTokenRevoke(w http.ResponseWriter, r *http.Request) {
	p, id := principalOf(r), r.PathValue("id")
	if u.cfg.Tokens == nil || p.BreakGlass {
		u.renderError(w, r, http.StatusNotFound, "", "")
		return
	}
	u.revokeOwn(w, r, func(ctx context.Context) (bool, error) {
		all, err := u.cfg.Tokens.List(ctx)
		return slices.ContainsFunc(all, func(t *connecthub.Token) bool {
			return t.ID == id && t.Scope == connecthub.ScopeUser && t.Owner == p.User
		}), err
	}, func(ctx context.Context) error {
		return u.cfg.Tokens.Revoke(u.svc.Audited(ctx, "token.revoke", "token:"+id), id)
	}, "users.flash.token_revoked", id)
}

func (u *UI) accountSessionRevoke(w http.ResponseWriter, r *http.Request) {
	p, id := principalOf(r), r.PathValue("id")
	if u.cfg.SessionList == nil {
		u.renderError(w, r, http.StatusNotFound, "", "")
		return
	}
	u.revokeOwn(w, r, func(ctx context.Context) (bool, error) {
		all, err := u.cfg.SessionList.SessionList(ctx, u.now())
		return slices.ContainsFunc(all, func(s *connecthub.Session) bool {
			return s.ID == id && s.User == p.User && s.BreakGlass == p.BreakGlass
		}), err
	}, func(ctx context.Context) error {
		return u.cfg.Sessions.SessionRevoke(u.svc.Audited(ctx, "session.revoke", "session:"+id), id, u.now())
	}, "users.flash.session_revoked", "")
}

// revokeOwn ends one of the signed-in user's own tokens or sessions:
// mine says whether the request names one of them (another user's is as
// good as unknown, 404), revoke ends it.
func (u *UI) revokeOwn(w http.ResponseWriter, r *http.Request, mine func(context.Context) (bool, error),
	revoke func(context.Context) error, flashKey, flashArg string) {
	ok, err := mine(r.Context())
	switch {
	case err != nil:
		u.fail(w, r, err)
		return
	case !ok:
		u.renderError(w, r, http.StatusNotFound, "", "")
		return
	}
	if err := revoke(r.Context()); err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, flashKey, flashArg)
	redirect(w, r, Prefix+"/account")
}

// usersView is the data of the users page.
type usersView struct {
	Users []*connecthub.User
	Roles []connecthub.Role
	// Form holds what the add form was sent with, after an error.
	Form  service.UserInput
	Error string
	Me    string
	Loc   *time.Location
}

func (u *UI) userList(w http.ResponseWriter, r *http.Request) {
	u.showUsers(w, r, http.StatusOK, usersView{Form: service.UserInput{Role: string(connecthub.RoleViewer)}})
}

func (u *UI) showUsers(w http.ResponseWriter, r *http.Request, status int, uv usersView) {
	list, err := u.svc.UserList(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	uv.Users, uv.Roles, uv.Loc, uv.Me = list, connecthub.Roles, u.defLoc, principalOf(r).User
	u.render(w, r, status, "users", u.page(w, r, "users", "users.title", uv))
}

func (u *UI) userCreate(w http.ResponseWriter, r *http.Request) {
	in := service.UserInput{Username: r.PostFormValue("username"), DisplayName: r.PostFormValue("display_name"),
		Role: r.PostFormValue("role"), Password: r.PostFormValue("password")}
	usr, err := u.svc.UserCreate(r.Context(), in)
	if msg, ok := u.formError(r, err); ok {
		in.Password = "" // never echoed back
		u.showUsers(w, r, http.StatusUnprocessableEntity, usersView{Form: in, Error: msg})
		return
	} else if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "users.flash.created", usr.Username)
	redirect(w, r, Prefix+"/users")
}

func (u *UI) userSetRole(w http.ResponseWriter, r *http.Request) {
	role := r.PostFormValue("role")
	usr, err := u.svc.UserUpdate(r.Context(), r.PathValue("username"), service.UserPatch{Role: &role})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "users.flash.role_set", usr.Username+"\x00"+u.tr(r, "users.role."+string(usr.Role)))
	redirect(w, r, Prefix+"/users")
}

func (u *UI) userSetDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := "users.flash.enabled"
		if disabled {
			key = "users.flash.disabled"
		}
		u.patchUser(w, r, service.UserPatch{Disabled: &disabled}, key)
	}
}

// patchUser applies p to the path's user and goes back to the users page
// with the flash key naming the user.
func (u *UI) patchUser(w http.ResponseWriter, r *http.Request, p service.UserPatch, key string) {
	usr, err := u.svc.UserUpdate(r.Context(), r.PathValue("username"), p)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, key, usr.Username)
	redirect(w, r, Prefix+"/users")
}

// userAllowOIDCLink sets or withdraws the admin's leave for a local
// user's next single sign-on to link to it (the row's checkbox).
func (u *UI) userAllowOIDCLink(w http.ResponseWriter, r *http.Request) {
	allow := r.PostFormValue("allow") == "true"
	key := "users.flash.oidc_link_withdrawn"
	if allow {
		key = "users.flash.oidc_link_allowed"
	}
	u.patchUser(w, r, service.UserPatch{AllowOIDCLink: &allow}, key)
}
