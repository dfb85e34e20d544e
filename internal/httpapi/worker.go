package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/protocol"
)

// This file is the HTTP transport of the worker protocol (/api/v1/worker,
// docs/worker-protocol.md). The protocol itself, its rules and its state,
// is internal/workerproto's: each handler here decodes a request into the
// wire types of package protocol, calls the workerproto.Service and
// encodes its answer; errors go through writeError like every other route.

// workerRoutes registers the protocol's routes.
func (a *API) workerRoutes(api apiFunc) {
	api("POST /api/v1/worker/register", WorkerOrAdmin, a.workerRegister)
	api("POST /api/v1/worker/keepalive", WorkerOrAdmin, a.workerKeepalive)
	api("POST /api/v1/worker/prestop", WorkerOrAdmin, a.workerPrestop)
	api("POST /api/v1/worker/claim", WorkerOrAdmin, a.workerClaim)
	api("POST /api/v1/worker/heartbeat", WorkerOrAdmin, a.workerHeartbeat)
	api("POST /api/v1/worker/runs/{id}/heartbeat", WorkerOrAdmin, a.workerRunHeartbeat)
	api("POST /api/v1/worker/runs/{id}/log", WorkerOrAdmin, a.workerRunLog)
	api("POST /api/v1/worker/runs/{id}/complete", WorkerOrAdmin, a.workerRunComplete)
}

// workerDecode checks that the protocol is enabled, reads the body once
// and decodes it into each of vs in turn, stopping at the first error. A
// target that has a check method is checked right after it is decoded.
// Decoding a field apart first lets a handler see what the wire type
// cannot tell (a chunk that is present but empty) or report a malformed
// value against its field (a wait that is no duration), while the field
// paths of the other errors stay those of the wire type.
func (a *API) workerDecode(r *http.Request, vs ...any) error {
	if a.cfg.Worker == nil {
		return &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "worker_protocol_disabled",
			Message: "the worker protocol is not enabled on this server"}
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	for _, v := range vs {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := decodeJSON(r, v); err != nil {
			return err
		}
		if c, ok := v.(interface{ check() error }); ok {
			if err := c.check(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *API) workerRegister(w http.ResponseWriter, r *http.Request) error {
	var req protocol.RegisterRequest
	if err := a.workerDecode(r, &req); err != nil {
		return err
	}
	n, err := a.cfg.Worker.Register(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

func (a *API) workerKeepalive(w http.ResponseWriter, r *http.Request) error {
	var req protocol.KeepaliveRequest
	if err := a.workerDecode(r, &req); err != nil {
		return err
	}
	n, err := a.cfg.Worker.Keepalive(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

func (a *API) workerPrestop(w http.ResponseWriter, r *http.Request) error {
	var req protocol.PrestopRequest
	if err := a.workerDecode(r, &req); err != nil {
		return err
	}
	if err := a.cfg.Worker.Prestop(r.Context(), req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// claimWait is a claim's wait, decoded before the rest of the request:
// a malformed duration would otherwise fail the whole body.
type claimWait struct {
	Wait json.RawMessage `json:"wait"`
}

func (c *claimWait) check() error {
	if len(c.Wait) == 0 {
		return nil
	}
	var d connecthub.Duration
	if err := d.UnmarshalJSON(c.Wait); err != nil {
		return connecthub.FieldError("wait", "", "wait %s", err.Error())
	}
	return nil
}

func (a *API) workerClaim(w http.ResponseWriter, r *http.Request) error {
	var req protocol.ClaimRequest
	if err := a.workerDecode(r, &claimWait{}, &req); err != nil {
		return err
	}
	resp, err := a.cfg.Worker.Claim(r.Context(), req)
	if err != nil {
		return err
	}
	a.deliverClaim(w, r, req.Name, resp)
	return nil
}

// deliverClaim writes the claimed runs. When the client is gone, or the
// answer cannot be written, the runs are handed back at once (same
// attempt) rather than left to wait for their leases to expire and be
// rescued with an attempt consumed.
func (a *API) deliverClaim(w http.ResponseWriter, r *http.Request, node string, resp *protocol.ClaimResponse) {
	body, err := json.Marshal(resp)
	if err != nil {
		a.cfg.Worker.HandBack(r.Context(), node, resp.Runs)
		writeError(w, r, a.log, err)
		return
	}
	if len(resp.Runs) > 0 && r.Context().Err() != nil {
		a.cfg.Worker.HandBack(r.Context(), node, resp.Runs)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(append(body, '\n')); err != nil && len(resp.Runs) > 0 {
		a.cfg.Worker.HandBack(r.Context(), node, resp.Runs)
	}
}

func (a *API) workerHeartbeat(w http.ResponseWriter, r *http.Request) error {
	var req protocol.HeartbeatRequest
	if err := a.workerDecode(r, &req); err != nil {
		return err
	}
	resp, err := a.cfg.Worker.Heartbeat(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) workerRunHeartbeat(w http.ResponseWriter, r *http.Request) error {
	var req protocol.RunHeartbeatRequest
	if err := a.workerDecode(r, &req); err != nil {
		return err
	}
	hb, err := a.cfg.Worker.HeartbeatRun(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, hb)
	return nil
}

func (a *API) workerRunLog(w http.ResponseWriter, r *http.Request) error {
	// An empty chunk is a valid request that the wire type cannot tell
	// from an absent one.
	var sent struct {
		Chunk *string `json:"chunk"`
	}
	var req protocol.LogRequest
	if err := a.workerDecode(r, &sent, &req); err != nil {
		return err
	}
	if err := a.cfg.Worker.AppendLog(r.Context(), r.PathValue("id"), req, sent.Chunk != nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) workerRunComplete(w http.ResponseWriter, r *http.Request) error {
	var req protocol.CompleteRequest
	if err := a.workerDecode(r, &req); err != nil {
		return err
	}
	run, err := a.cfg.Worker.Complete(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, run)
	return nil
}
