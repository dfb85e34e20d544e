package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/connecthub/connecthub"
)

// Requirements of routes that worker-scope tokens call. They are passed
// where a route names its role, so that who may call a route is always
// written next to its registration.
const (
	// WorkerOrAdmin is the worker protocol: a worker-scope token (held to
	// its binding by the protocol), or an admin.
	WorkerOrAdmin connecthub.Role = "worker|admin"
	// WorkerOrViewer is what a worker-scope token may read besides the
	// protocol (the Prometheus service discovery, which shows only what
	// workers announce about themselves), and anyone signed in.
	WorkerOrViewer connecthub.Role = "worker|viewer"
)

// requirement is what a route asks of its caller.
type requirement struct {
	role   connecthub.Role
	worker bool // a worker-scope token may call it
}

// requirementOf reads a route's declared role; anything else is a
// programming error, so it panics at start-up, never at a request.
func requirementOf(pattern string, role connecthub.Role) requirement {
	switch role {
	case WorkerOrAdmin:
		return requirement{role: connecthub.RoleAdmin, worker: true}
	case WorkerOrViewer:
		return requirement{role: connecthub.RoleViewer, worker: true}
	}
	if !role.Valid() {
		panic(fmt.Sprintf("httpapi: route %q declares no valid role (%q): every API route names the least role that may call it", pattern, role))
	}
	return requirement{role: role}
}

// check holds principal p to the requirement: a worker-scope token only
// on worker routes (and nothing else on them), a person or token only
// with a role at least the route's.
func (need requirement) check(p *connecthub.Principal, r *http.Request) error {
	if p.Kind == connecthub.PrincipalWorker {
		if need.worker {
			return nil
		}
		return errWorkerScope
	}
	if !p.Allows(need.role) {
		return connecthub.ErrRoleNeeded(need.role, r.Method+" "+r.URL.Path)
	}
	return nil
}

// Route is one registered API route and the role it needs.
type Route struct {
	Pattern string
	Role    connecthub.Role
}

// Routes returns every /api/v1 route with its declared role, in the order
// they were registered, for the route-by-role tests and the docs.
func (a *API) Routes() []Route { return append([]Route(nil), a.routeTable...) }

// register adds an /api/v1 route: pattern, the least role that may call
// it, and its handler. A route without a valid role does not register
// (the server does not start), so no route is ever left open by mistake.
func (a *API) register(pattern string, role connecthub.Role, h func(http.ResponseWriter, *http.Request) error) {
	if !strings.Contains(pattern, "/api/v1/") {
		panic(fmt.Sprintf("httpapi: %q is not an /api/v1 route", pattern))
	}
	need := requirementOf(pattern, role)
	a.routeTable = append(a.routeTable, Route{Pattern: pattern, Role: role})
	a.mux.Handle(pattern, a.authed(need, h))
}

// apiFunc is the signature of register, which every file's routes
// function takes.
type apiFunc = func(pattern string, role connecthub.Role, h func(http.ResponseWriter, *http.Request) error)
