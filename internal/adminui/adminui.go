// Package adminui serves ConnectHub's admin web UI under /admin:
// server-rendered pages (html/template) with a little htmx for partial
// updates and a small script for JSON editors and live log tails. Templates,
// styles, scripts and the zh-CN/en string catalogs are embedded, so the UI
// needs nothing from the internet at run time.
//
// Every page calls the service layer, exactly like the REST API does, so the
// UI and the API cannot disagree about validation or behaviour. The UI adds
// what a browser needs on top: a login with a signed session cookie, CSRF
// protection for every unsafe request (a per-session token and the
// browser's Sec-Fetch-Site/Origin check), escaping of everything it shows,
// and friendly error pages that never leak internals.
package adminui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/auth"
	"github.com/connecthub/connecthub/internal/notify"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/sso"
)

// Prefix is where the UI is mounted.
const Prefix = "/admin"

// Config wires the UI. Fields document their defaults.
type Config struct {
	// Service is the service layer every page calls. Required.
	Service *service.Service
	// AdminToken keys the session cookies' hashes and the CSRF tokens.
	// Required.
	AdminToken string
	// Sessions keeps the logins in the database, so that a logout holds
	// across restarts and replicas; the store implements it. Required.
	Sessions auth.SessionStore
	// Username is the bootstrap (break-glass) login name. Default
	// "admin". Users in the database sign in with their own names.
	Username string
	// Password is the bootstrap login's password. Default: the admin
	// token.
	Password string
	// SessionTTL is how long a login lasts. Default 12h.
	SessionTTL time.Duration
	// Timezone interprets the times typed into the runs filter, and shows
	// times that belong to no job. Default "UTC".
	Timezone string
	// Node is this server's node name, shown on the nodes page while there
	// is no node registry.
	Node string
	// Nodes lists the worker registry; nil shows an empty state explaining
	// that this server runs its own in-process workers.
	Nodes NodeLister
	// Notify serves the notification pages (channels, alert rules,
	// deliveries); nil answers them 503.
	Notify *notify.Service
	// Guard limits and records failed logins and forged session cookies
	// per client address (trusted proxies included). Share the API's, so
	// that a password guesser cannot switch to the API when the login page
	// turns it away: by default the password is the admin token. nil means
	// a Guard of the UI's own with the budget LoginLimit.
	Guard *auth.Guard
	// LoginLimit is the budget of the UI's own Guard when Guard is nil;
	// its zero value allows 5 failures at once, then one every 12s.
	LoginLimit auth.LimiterConfig
	// Tokens, when set, lets the "my account" page make and revoke
	// personal API tokens; *token.Service implements it.
	Tokens AccountTokens
	// SessionList, when set, lists a user's own sessions on "my account";
	// the store implements it.
	SessionList SessionLister
	// SSO, when set, offers single sign-on through an OpenID Connect
	// issuer on the login page, labelled "Sign in with SSOName".
	SSO     *sso.Client
	SSOName string
	// LogPoll is how often a tailed run log is polled. Default 250ms.
	LogPoll time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
}

// NodeLister lists the registered nodes; *service.Service implements it.
// With no lister, or one that reports the "no_node_registry" error, the
// nodes page explains that this server runs its runs in its own worker
// pool; once a registry exists the page and the dashboard light up without
// further change.
type NodeLister interface {
	NodeList(ctx context.Context) ([]*connecthub.Node, error)
}

// UI is the http.Handler of the admin UI.
type UI struct {
	cfg      Config
	svc      *service.Service
	log      *slog.Logger
	now      func() time.Time
	sessions *auth.Manager
	guard    *auth.Guard
	creds    auth.Credentials
	defLoc   *time.Location
	pages    *pageSet
	static   *staticFiles
	cop      *http.CrossOriginProtection
	mux      *http.ServeMux
	// routeTable lists the pages and forms behind the login with their
	// roles.
	routeTable []Route
}

// New checks cfg, fills its defaults and builds the UI.
func New(cfg Config) (*UI, error) {
	if cfg.Service == nil {
		return nil, errors.New("adminui: Service is required")
	}
	if cfg.AdminToken == "" {
		return nil, errors.New("adminui: AdminToken is required")
	}
	if cfg.Sessions == nil {
		return nil, errors.New("adminui: Sessions is required")
	}
	if cfg.Username == "" {
		cfg.Username = "admin"
	}
	if cfg.Password == "" {
		cfg.Password = cfg.AdminToken
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Timezone == "" {
		cfg.Timezone = "UTC"
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("adminui: Timezone: %w", err)
	}
	if cfg.SSO != nil && cfg.SSOName == "" {
		cfg.SSOName = "SSO"
	}
	if cfg.LogPoll <= 0 {
		cfg.LogPoll = 250 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sessions, err := auth.NewManager(auth.Config{Secret: cfg.AdminToken, TTL: cfg.SessionTTL, Store: cfg.Sessions, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	if cfg.Guard == nil {
		if cfg.LoginLimit.Now == nil {
			cfg.LoginLimit.Now = cfg.Now
		}
		g, err := auth.NewGuard(auth.GuardConfig{Limit: cfg.LoginLimit, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		cfg.Guard = g
	}
	static, err := loadStatic()
	if err != nil {
		return nil, err
	}
	u := &UI{
		cfg: cfg, svc: cfg.Service, log: cfg.Logger, now: cfg.Now, sessions: sessions, guard: cfg.Guard,
		creds: auth.Credentials{Username: cfg.Username, Password: cfg.Password}, defLoc: loc, static: static,
		cop: http.NewCrossOriginProtection(), mux: http.NewServeMux(),
	}
	if u.pages, err = loadPages(u.funcs(), u.now); err != nil {
		return nil, err
	}
	u.routes()
	return u, nil
}

// Sessions returns the session manager, so the REST API can accept the UI's
// session cookie (httpapi.Config.Sessions).
func (u *UI) Sessions() *auth.Manager { return u.sessions }

// Wrap returns a handler that sends /admin and everything below it to the
// UI, the site root to the dashboard (what a person typing the server's
// address wants), and all other requests to next (the REST API).
func (u *UI) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == Prefix || strings.HasPrefix(r.URL.Path, Prefix+"/"):
			u.ServeHTTP(w, r)
		case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, Prefix+"/", http.StatusFound)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// maxFormBytes bounds form bodies; a job's JSON editors are the largest.
const maxFormBytes = 1 << 20

// ServeHTTP implements http.Handler: security headers, panic recovery,
// the cross-origin check for unsafe methods, then the routes.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			u.log.Error("panic serving admin page", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			u.renderError(w, r, http.StatusInternalServerError, "", "")
		}
	}()
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	// Browsers say where a request comes from (Sec-Fetch-Site, Origin); a
	// state-changing request from another origin is refused before any
	// handler sees it. The per-session token below is the second line.
	if err := u.cop.Check(r); err != nil {
		u.log.Warn("refused cross-origin request", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
		u.renderError(w, r, http.StatusForbidden, "error.cross_origin", "")
		return
	}
	u.mux.ServeHTTP(w, r)
}

// ctxKey keys the request context values of this package.
type ctxKey int

const sessionKey ctxKey = iota

// sessionOf returns the request's verified session (set by requireLogin).
func sessionOf(r *http.Request) *auth.Session {
	s, _ := r.Context().Value(sessionKey).(*auth.Session)
	return s
}

// principalOf returns who the request acts for, with its role now (set
// by requireLogin); nil on pages without a session.
func principalOf(r *http.Request) *connecthub.Principal {
	return connecthub.PrincipalFrom(r.Context())
}

// isHTMX reports a request made by htmx, which wants a fragment back.
func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// requireLogin guards a page: without a valid session a browser is sent to
// the login page (and back here afterwards); an unsafe request must also
// carry the session's CSRF token, from a form field or the X-CSRF-Token
// header; and the session's user must hold the page's role (need) now,
// read from the database on every request, else the answer is a 403 page
// naming the role.
func (u *UI) requireLogin(need connecthub.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := u.sessions.FromRequest(r)
		if err != nil && !auth.NoSession(err) {
			u.fail(w, r, err) // the session store failed: not the person's fault
			return
		}
		var p *connecthub.Principal
		if err == nil {
			p, err = u.svc.SessionPrincipal(r.Context(), s.ID, s.User, s.BreakGlass)
			switch {
			case connecthub.IsKind(err, connecthub.KindUnauthorized):
				err = auth.ErrRevoked // a disabled user is signed out
			case err != nil:
				u.fail(w, r, err)
				return
			}
		}
		if err != nil {
			if auth.CountsAsFailure(err) {
				u.guard.Fail(r, u.guard.Client(r), auth.KindSession)
			}
			next := Prefix + "/"
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			target := Prefix + "/login?next=" + urlQueryEscape(next)
			if errors.Is(err, auth.ErrExpired) {
				target += "&expired=1"
			}
			if isHTMX(r) {
				w.Header().Set("HX-Redirect", target)
				w.WriteHeader(http.StatusNoContent)
				return
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if !safeMethod(r.Method) {
			token := r.Header.Get(auth.CSRFHeader)
			if token == "" {
				token = r.PostFormValue(auth.CSRFField)
			}
			if !u.sessions.CheckCSRF(s, token) {
				u.log.Warn("refused request without a valid CSRF token", "method", r.Method, "path", r.URL.Path)
				u.renderError(w, r, http.StatusForbidden, "error.csrf", "")
				return
			}
		}
		p.Client = u.guard.Client(r)
		ctx := connecthub.WithPrincipal(context.WithValue(r.Context(), sessionKey, s), p)
		r = r.WithContext(ctx)
		if !p.Allows(need) {
			u.log.Info("refused a page the role does not allow", "user", p.Name(), "role", p.Role, "need", need, "method", r.Method, "path", r.URL.Path)
			u.renderError(w, r, http.StatusForbidden, "", u.tr(r, "users.error.role", u.tr(r, "users.role."+string(need))))
			return
		}
		h(w, r)
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// Route is one page or form of the UI and the least role it needs.
type Route struct {
	Pattern string
	Role    connecthub.Role
}

// Routes returns every page and form behind the login with its role, in
// the order they were registered, for the route-by-role tests.
func (u *UI) Routes() []Route { return append([]Route(nil), u.routeTable...) }

// page registers a page or form behind the login with the least role
// that may use it. A route without a valid role does not register (the
// server does not start), so no form is ever left open by mistake.
func (u *UI) pageRoute(pattern string, role connecthub.Role, h http.HandlerFunc) {
	if !role.Valid() {
		panic(fmt.Sprintf("adminui: route %q declares no valid role (%q)", pattern, role))
	}
	u.routeTable = append(u.routeTable, Route{Pattern: pattern, Role: role})
	u.mux.HandleFunc(pattern, u.requireLogin(role, h))
}

func (u *UI) routes() {
	m := u.mux
	p := u.pageRoute
	const (
		viewer   = connecthub.RoleViewer
		operator = connecthub.RoleOperator
		admin    = connecthub.RoleAdmin
	)

	m.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusFound)
	})
	m.Handle("GET "+Prefix+"/static/{file...}", u.static)
	m.HandleFunc("GET "+Prefix+"/login", u.loginPage)
	m.HandleFunc("POST "+Prefix+"/login", u.loginSubmit)
	m.HandleFunc("GET "+Prefix+"/lang", u.setLanguage)
	if u.cfg.SSO != nil {
		m.HandleFunc("GET "+Prefix+"/oidc/start", u.oidcStart)
		m.HandleFunc("GET "+Prefix+"/oidc/callback", u.oidcCallback)
	}
	p("POST "+Prefix+"/logout", viewer, u.logout)

	p("GET "+Prefix+"/{$}", viewer, u.dashboard)
	p("GET "+Prefix+"/jobs", viewer, u.jobList)
	p("GET "+Prefix+"/jobs/new", admin, u.jobNew)
	p("POST "+Prefix+"/jobs", admin, u.jobCreate)
	p("GET "+Prefix+"/jobs/{id}", viewer, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, jobURL(r.PathValue("id")), http.StatusFound)
	})
	p("GET "+Prefix+"/jobs/{id}/edit", viewer, u.jobEdit) // read-only below admin
	p("POST "+Prefix+"/jobs/{id}/edit", admin, u.jobUpdate)
	p("POST "+Prefix+"/jobs/{id}/run", operator, u.jobRun)
	p("GET "+Prefix+"/jobs/{id}/run-params", operator, u.runParamsPage)
	p("POST "+Prefix+"/jobs/{id}/run-params", operator, u.runWithParams)
	p("POST "+Prefix+"/jobs/{id}/enable", operator, u.jobSetEnabled(true))
	p("POST "+Prefix+"/jobs/{id}/disable", operator, u.jobSetEnabled(false))
	p("GET "+Prefix+"/jobs/{id}/delete", admin, u.jobDeleteConfirm)
	p("POST "+Prefix+"/jobs/{id}/delete", admin, u.jobDelete)
	p("GET "+Prefix+"/jobs/{id}/purge", admin, u.jobPurgeConfirm)
	p("POST "+Prefix+"/jobs/{id}/purge", admin, u.jobPurge)
	p("GET "+Prefix+"/cron/preview", viewer, u.cronPreview)
	p("GET "+Prefix+"/runs", viewer, u.runList)
	p("GET "+Prefix+"/runs/{id}", viewer, u.runDetail)
	p("GET "+Prefix+"/runs/{id}/log", viewer, u.runLogStream)
	p("POST "+Prefix+"/runs/{id}/retry", operator, u.runRetry)
	p("POST "+Prefix+"/runs/{id}/cancel", operator, u.runCancel)
	p("GET "+Prefix+"/nodes", viewer, u.nodes)
	p("GET "+Prefix+"/queues", viewer, u.queueList)
	p("POST "+Prefix+"/queues/{name}/pause", operator, u.queueSetPaused(true))
	p("POST "+Prefix+"/queues/{name}/resume", operator, u.queueSetPaused(false))
	p("GET "+Prefix+"/calendars", viewer, u.calendarList)
	p("GET "+Prefix+"/calendars/new", admin, u.calendarNew)
	p("POST "+Prefix+"/calendars", admin, u.calendarCreate)
	p("GET "+Prefix+"/calendars/{name}", viewer, u.calendarShow)
	p("POST "+Prefix+"/calendars/{name}", admin, u.calendarSave)
	p("GET "+Prefix+"/calendars/{name}/delete", admin, u.calendarDeleteConfirm)
	p("POST "+Prefix+"/calendars/{name}/delete", admin, u.calendarDelete)
	u.bulkRoutes(p)
	u.userRoutes(p)
	u.auditRoutes(p)
	u.batchRoutes(p)
	u.notifyRoutes(p)
	u.chainRoutes(p)
	u.revisionRoutes(p)
	// An unknown admin page is a 404 inside the layout, with the navigation,
	// like a missing job's page; without a session the login comes first,
	// so a stranger learns nothing about which pages exist.
	p(Prefix+"/", viewer, func(w http.ResponseWriter, r *http.Request) {
		u.renderError(w, r, http.StatusNotFound, "", "")
	})
}
