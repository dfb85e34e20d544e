// Package httpapi serves ConnectHub's REST API (/api/v1), the health
// endpoints and the metrics endpoint. Handlers decode and validate input,
// call the service layer, and write JSON; errors go through writeError, the
// one place where error kinds become HTTP statuses.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/auth"
	"github.com/connecthub/connecthub/internal/notify"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/workerproto"
)

// Readiness reports whether the server should receive traffic; the reason
// is "draining" or "db_unavailable" when it should not.
type Readiness func(ctx context.Context) (ready bool, reason string)

// Config wires the API.
type Config struct {
	Service *service.Service
	// AdminToken authorises every /api/v1 request (Authorization: Bearer).
	AdminToken string
	// MaxBodyBytes limits request bodies (413 beyond); 0 = 1 MiB.
	MaxBodyBytes int64
	// Ready answers /health/ready.
	Ready Readiness
	// Metrics serves /metrics; nil = 404.
	Metrics http.Handler
	// Node is this server's node name, shown with handlers.
	Node string
	// FollowPoll is how often a followed log is polled; 0 = 200ms.
	FollowPoll time.Duration
	Logger     *slog.Logger
	// Sessions, when set, also authorises /api/v1 requests that carry the
	// admin UI's session cookie, so the UI's scripts can call the API; nil
	// means Bearer tokens only.
	Sessions SessionChecker
	// SessionStore, when set, serves /api/v1/sessions (sessions.go); nil
	// answers those routes 503.
	SessionStore SessionStore
	// Tokens, when set, also authorises API tokens (admin or worker scope)
	// and serves /api/v1/tokens; nil means the admin token only.
	Tokens Tokens
	// Worker serves the worker protocol (/api/v1/worker, worker.go); nil
	// answers its routes 503.
	Worker *workerproto.Service
	// Proc, when set, serves this server's proc API (/api/v1/proc, proc.go).
	Proc Proc
	// Guard limits and records failed Bearer and session attempts per
	// client address; share one with the admin UI so that every way in
	// draws on one budget. nil means a Guard of the API's own with the
	// default budget and no trusted proxies.
	Guard *auth.Guard
	// Notify serves channels, alert rules and the delivery log
	// (notify.go); nil answers those routes 503.
	Notify *notify.Service
}

// SessionChecker verifies the admin UI's session cookie; auth.Manager
// implements it. s is the valid session, csrfOK reports that the request
// also carries that session's CSRF token (header X-CSRF-Token).
type SessionChecker interface {
	// Check's err says why there is no session; auth.CountsAsFailure
	// tells a forged cookie from a missing or expired one.
	Check(r *http.Request) (s *auth.Session, csrfOK bool, err error)
}

// API is the http.Handler of the REST API.
type API struct {
	cfg       Config
	svc       *service.Service
	log       *slog.Logger
	tokenHash [32]byte
	mux       *http.ServeMux
	// routeTable lists the /api/v1 routes with their roles (roles.go).
	routeTable []Route
}

// New builds the API handler.
func New(cfg Config) (*API, error) {
	if cfg.Service == nil {
		return nil, errors.New("httpapi: Service is required")
	}
	if cfg.AdminToken == "" {
		return nil, errors.New("httpapi: AdminToken is required")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.FollowPoll <= 0 {
		cfg.FollowPoll = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Ready == nil {
		cfg.Ready = func(context.Context) (bool, string) { return true, "" }
	}
	if cfg.Guard == nil {
		g, err := auth.NewGuard(auth.GuardConfig{Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		cfg.Guard = g
	}
	a := &API{cfg: cfg, svc: cfg.Service, log: cfg.Logger, tokenHash: sha256.Sum256([]byte(cfg.AdminToken)), mux: http.NewServeMux()}
	a.routes()
	return a, nil
}

func (a *API) routes() {
	m := a.mux
	m.HandleFunc("GET /health", a.health)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	m.HandleFunc("GET /health/live", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /health/ready", a.ready)
	if a.cfg.Metrics != nil {
		m.Handle("GET /metrics", a.cfg.Metrics)
	}

	api := a.register
	api("GET /api/v1/jobs", connecthub.RoleViewer, a.jobList)
	api("POST /api/v1/jobs", connecthub.RoleAdmin, a.jobCreate)
	api("GET /api/v1/jobs/{id}", connecthub.RoleViewer, a.jobGet)
	api("PATCH /api/v1/jobs/{id}", connecthub.RoleAdmin, a.jobUpdate)
	api("DELETE /api/v1/jobs/{id}", connecthub.RoleAdmin, a.jobDelete)
	api("POST /api/v1/jobs/{id}/run", connecthub.RoleOperator, a.jobRun)
	api("POST /api/v1/jobs/{id}/enable", connecthub.RoleOperator, a.jobEnable(true))
	api("POST /api/v1/jobs/{id}/disable", connecthub.RoleOperator, a.jobEnable(false))
	api("DELETE /api/v1/jobs/{id}/runs", connecthub.RoleAdmin, a.jobPurgeRuns)
	api("GET /api/v1/runs", connecthub.RoleViewer, a.runList)
	api("GET /api/v1/runs/{id}", connecthub.RoleViewer, a.runGet)
	api("GET /api/v1/runs/{id}/log", connecthub.RoleViewer, a.runLog)
	api("POST /api/v1/runs/{id}/retry", connecthub.RoleOperator, a.runRetry)
	api("POST /api/v1/runs/{id}/cancel", connecthub.RoleOperator, a.runCancel)
	api("GET /api/v1/handlers", connecthub.RoleViewer, a.handlerList)
	api("GET /api/v1/cron/next", connecthub.RoleViewer, a.cronNext)
	api("GET /api/v1/stats", connecthub.RoleViewer, a.stats)
	a.calendarRoutes(api)
	a.queueRoutes(api)
	a.chainRoutes(api)
	a.runBulkRoutes(api)
	a.tokenRoutes(api)
	a.sessionRoutes(api)
	a.userRoutes(api)
	a.auditRoutes(api)
	a.workerRoutes(api)
	a.nodeRoutes(api)
	a.procRoutes(api)
	a.notifyRoutes(api)
	a.revisionRoutes(api)
	a.batchRoutes(api)
	api("/api/v1/", connecthub.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		return connecthub.Errorf(connecthub.KindNotFound, "no route %s %s", r.Method, r.URL.Path)
	})
}

// ServeHTTP implements http.Handler with panic recovery: a bug in one
// request becomes a 500 for that request, never a dead process.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			writeError(w, r, a.log, errors.New("panic"))
		}
	}()
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
	}
	if a.unrouted(r) {
		if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
			writeError(w, r, a.log, connecthub.Errorf(connecthub.KindNotFound, "no route %s %s", r.Method, r.URL.Path))
		} else {
			notFoundPage(w, r)
		}
		return
	}
	a.mux.ServeHTTP(w, r)
}

// authed authenticates the request, holds its principal to the route's
// requirement (need, see register) and turns a handler's error into a JSON
// error response. A Bearer token is compared in constant time (comparing
// SHA-256 digests, so the token's length does not leak either); the admin
// UI's session cookie also authorises. Failed attempts draw on the
// client's budget in the Guard: once it is used up, a Bearer token is
// refused with 429 before it is compared, so a guesser learns nothing.
func (a *API) authed(need requirement, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := a.cfg.Guard
		client := g.Client(r)
		_, hasBearer := bearer(r)
		if hasBearer {
			if blocked, wait := g.Blocked(client, auth.KindBearer); blocked {
				a.tooManyAttempts(w, wait)
				return
			}
		}
		p, r, err := a.bearerPrincipal(r)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if p != nil {
			r = r.WithContext(context.WithValue(r.Context(), viaBearerKey{}, true))
		} else {
			if hasBearer {
				g.Fail(r, client, auth.KindBearer)
			}
			var ok bool
			if p, ok = a.sessionPrincipal(w, r, client); !ok {
				return
			}
		}
		if err := need.check(p, r); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		p.Client = client
		r = r.WithContext(connecthub.WithPrincipal(r.Context(), p))
		if err := h(w, r); err != nil {
			writeError(w, r, a.log, err)
		}
	})
}

// sessionPrincipal authenticates the admin UI's session cookie. With the
// cookie, unsafe methods need the session's CSRF token, or a page on
// another site could make the browser call the API. ok false means an
// answer was written.
func (a *API) sessionPrincipal(w http.ResponseWriter, r *http.Request, client string) (*connecthub.Principal, bool) {
	s, csrfOK, serr := a.sessionCheck(r)
	switch {
	case serr != nil && !auth.NoSession(serr):
		// The session store could not answer: a 503, not a 401 that
		// would send the UI's scripts to the login page.
		writeError(w, r, a.log, &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "unavailable",
			Message: "cannot check the session now (database unavailable); try again", Err: serr})
		return nil, false
	case s != nil && !csrfOK && !safeMethod(r.Method):
		writeError(w, r, a.log, &connecthub.Error{Kind: connecthub.KindForbidden, Code: "csrf_failed", Message: "missing or invalid CSRF token (send X-CSRF-Token with the admin session cookie)"})
		return nil, false
	case s != nil:
		p, err := a.svc.SessionPrincipal(r.Context(), s.ID, s.User, s.BreakGlass)
		if err == nil {
			return p, true
		}
		if !connecthub.IsKind(err, connecthub.KindUnauthorized) {
			writeError(w, r, a.log, err)
			return nil, false
		}
	default:
		if auth.CountsAsFailure(serr) {
			a.cfg.Guard.Fail(r, client, auth.KindSession)
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="connecthub"`)
	writeError(w, r, a.log, &connecthub.Error{Kind: connecthub.KindUnauthorized, Code: "unauthorized", Message: "missing or invalid token (send Authorization: Bearer <token>)"})
	return nil, false
}

// viaBearerKey marks, in a request's context, that a valid Bearer token
// (not the session cookie) authorised it.
type viaBearerKey struct{}

// viaBearer reports whether a valid Bearer token authorised r.
func viaBearer(r *http.Request) bool {
	v, _ := r.Context().Value(viaBearerKey{}).(bool)
	return v
}

// tooManyAttempts answers 429 to a client that has used up its failed
// attempts, with Retry-After in whole seconds.
func (a *API) tooManyAttempts(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeJSON(w, http.StatusTooManyRequests, errorBody{Error: errorDetail{Code: "too_many_attempts",
		Message: fmt.Sprintf("too many failed authentication attempts from this address; try again in %d seconds", max(secs, 1))}})
}

func (a *API) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], a.tokenHash[:]) == 1
}

// sessionCheck asks the configured SessionChecker, if any.
func (a *API) sessionCheck(r *http.Request) (s *auth.Session, csrfOK bool, err error) {
	if a.cfg.Sessions == nil {
		return nil, false, auth.ErrNoSession
	}
	return a.cfg.Sessions.Check(r)
}

// safeMethod reports methods that must not change state (RFC 9110 §9.2.1).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (a *API) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "name": "connecthub", "version": connecthub.Version})
}

func (a *API) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	ok, reason := a.cfg.Ready(ctx)
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": reason})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
