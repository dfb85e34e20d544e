package workerapp

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/httpapi"
)

// The remote worker answers the same proc API as a server's own node (see
// httpapi.Proc), on its control port.
var _ httpapi.Proc = (*remoteNode)(nil)

// ProcStatus reports ERROR while the server cannot be reached, ABORT while
// the worker is stopped or shutting down, PENDING until it registered, else
// RUNNING.
func (n *remoteNode) ProcStatus(context.Context) httpapi.ProcStatus {
	return httpapi.ProcStatus{
		Status: n.status(), Name: n.name, Server: n.server, Running: n.pool.Running(), Max: n.max,
		Paused: n.pool.Paused(), Error: n.lastErr(),
	}
}

// ProcStop stops claiming; runs in flight finish.
func (n *remoteNode) ProcStop() error {
	n.log.Info("proc stop: pausing")
	n.pool.Pause()
	return nil
}

// ProcStart resumes claiming, unless the worker is shutting down.
func (n *remoteNode) ProcStart() error {
	if n.stopping.Load() {
		return &connecthub.Error{Kind: connecthub.KindConflict, Code: "shutting_down",
			Message: "the worker is shutting down and cannot be started again"}
	}
	n.log.Info("proc start: resuming")
	n.pool.Resume()
	return nil
}

// controlHandler serves the node's control port. stop and start change
// the node, so they answer only to a loopback client or one that presents
// the worker's own token: the port may be exposed for metrics scraping.
func (n *remoteNode) controlHandler(metrics http.Handler) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/v1/proc/status", func(w http.ResponseWriter, r *http.Request) {
		writeControlJSON(w, http.StatusOK, n.ProcStatus(r.Context()))
	})
	m.HandleFunc("GET /api/v1/proc/stop", n.guard(n.procControl(n.ProcStop)))
	m.HandleFunc("GET /api/v1/proc/start", n.guard(n.procControl(n.ProcStart)))
	m.HandleFunc("GET /health/live", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /health/ready", func(w http.ResponseWriter, _ *http.Request) {
		switch n.status() {
		case httpapi.ProcRunning, httpapi.ProcAbort:
			if n.stopping.Load() {
				writeControlJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
				return
			}
			writeControlJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		case httpapi.ProcPending:
			writeControlJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "registering"})
		default:
			writeControlJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "server_unavailable"})
		}
	})
	m.Handle("GET /metrics", metrics)
	return m
}

// procControl runs a stop or start and answers with the status, or with
// the refusal as 409 Conflict.
func (n *remoteNode) procControl(do func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := do(); err != nil {
			status, code := http.StatusInternalServerError, "internal"
			var ce *connecthub.Error
			if errors.As(err, &ce) && ce.Kind == connecthub.KindConflict {
				status, code = http.StatusConflict, ce.Code
			}
			writeControlJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": errMessage(err)}})
			return
		}
		writeControlJSON(w, http.StatusOK, n.ProcStatus(r.Context()))
	}
}

// errMessage is the message of a connecthub.Error, else the error's text.
func errMessage(err error) string {
	var ce *connecthub.Error
	if errors.As(err, &ce) && ce.Message != "" {
		return ce.Message
	}
	return err.Error()
}

// guard admits loopback clients, and others with the worker's token.
func (n *remoteNode) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsLoopback() {
			h(w, r)
			return
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && n.tokenMatches(strings.TrimSpace(tok)) {
			h(w, r)
			return
		}
		writeControlJSON(w, http.StatusForbidden, map[string]any{"error": map[string]string{
			"code": "forbidden", "message": "proc stop/start answer only to loopback clients or the worker's token (Authorization: Bearer)"}})
	}
}

// tokenMatches compares digests in constant time.
func (n *remoteNode) tokenMatches(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], n.token[:]) == 1
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
