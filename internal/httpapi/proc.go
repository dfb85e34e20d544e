package httpapi

import (
	"context"
	"net/http"

	"github.com/connecthub/connecthub"
)

// Proc statuses of a node (the proc API of docs/api.md), the same for a
// server's own worker pool and a remote worker (`connecthub worker`).
const (
	ProcPending = "PENDING" // not pulling runs: a server without a worker pool, a worker not registered yet
	ProcRunning = "RUNNING" // claiming and running
	ProcAbort   = "ABORT"   // stopped by an operator (or shutting down): finishes in-flight runs, claims nothing
	ProcError   = "ERROR"   // cannot reach the database (server) or the server (worker)
)

// ProcStatus answers GET /api/v1/proc/status.
type ProcStatus struct {
	Status string `json:"status"`
	Name   string `json:"name"`
	// Server is the URL a remote worker pulls from; empty for a server.
	Server  string `json:"server,omitempty"`
	Running int    `json:"running"`
	Max     int    `json:"max"`
	Paused  bool   `json:"paused"`
	Error   string `json:"error,omitempty"`
}

// Proc is a node's worker pool, controlled through the proc API: a
// server's own pool here, a remote worker's on its control port. Stop
// pauses claiming (in-flight runs finish); Start resumes it.
type Proc interface {
	ProcStatus(ctx context.Context) ProcStatus
	// ProcStop and ProcStart return an error when there is nothing to
	// control (a server with CONNECTHUB_WORKERS=0).
	ProcStop() error
	ProcStart() error
}

func (a *API) procRoutes(api apiFunc) {
	if a.cfg.Proc == nil {
		return
	}
	api("GET /api/v1/proc/status", connecthub.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, a.cfg.Proc.ProcStatus(r.Context()))
		return nil
	})
	api("GET /api/v1/proc/stop", connecthub.RoleOperator, a.procControl(a.cfg.Proc.ProcStop))
	api("GET /api/v1/proc/start", connecthub.RoleOperator, a.procControl(a.cfg.Proc.ProcStart))
}

// procControl runs a stop or start. The proc API makes them GET requests,
// which a browser also sends on a plain link from another site with the
// admin session cookie attached (and, for a site the browser holds Basic
// credentials for, an Authorization header); so they demand that a valid
// Bearer token authorised the request, never the cookie.
func (a *API) procControl(do func() error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !viaBearer(r) {
			return &connecthub.Error{Kind: connecthub.KindForbidden, Code: "token_required",
				Message: "proc stop and start need Authorization: Bearer <token> (an operator's or an admin's); the admin session cookie is not enough for them"}
		}
		if err := do(); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, a.cfg.Proc.ProcStatus(r.Context()))
		return nil
	}
}
