package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/protocol"
)

// This file is the client side of the worker protocol (/api/v1/worker,
// docs/worker-protocol.md): what `connecthub worker` speaks to the servers.
// Every call carries the node's name, because the servers keep no session:
// any replica behind a load balancer can answer any call.

// The worker protocol's messages are defined once, in package protocol,
// which the server side imports too; the names below keep the client's API.

// Completion statuses a worker reports for an attempt (see package
// protocol).
const (
	CompleteSuccess, CompleteFailure, CompleteCanceled = protocol.CompleteSuccess, protocol.CompleteFailure, protocol.CompleteCanceled
	CompleteRetry, CompleteHandBack                    = protocol.CompleteRetry, protocol.CompleteHandBack
)

// The messages of the worker protocol, named here too so that a client
// program needs no second import (see package protocol for each).
type (
	// RegisterRequest announces a node.
	RegisterRequest = protocol.RegisterRequest
	// KeepaliveRequest is a node's periodic heartbeat.
	KeepaliveRequest = protocol.KeepaliveRequest
	// ClaimRequest asks for runs.
	ClaimRequest = protocol.ClaimRequest
	// ClaimedRun is a run leased to the node.
	ClaimedRun = protocol.ClaimedRun
	// ClaimResponse is the answer to a claim.
	ClaimResponse = protocol.ClaimResponse
	// RunRef names one attempt of a run held by a node.
	RunRef = protocol.RunRef
	// HeartbeatRequest extends the leases of several runs.
	HeartbeatRequest = protocol.HeartbeatRequest
	// RunHeartbeat is the answer of a heartbeat for one run.
	RunHeartbeat = protocol.RunHeartbeat
	// HeartbeatResponse answers a HeartbeatRequest.
	HeartbeatResponse = protocol.HeartbeatResponse
	// RunHeartbeatRequest extends the lease of one run.
	RunHeartbeatRequest = protocol.RunHeartbeatRequest
	// LogRequest appends to a run's log.
	LogRequest = protocol.LogRequest
	// CompleteRequest records how an attempt ended.
	CompleteRequest = protocol.CompleteRequest
)

// StatusOf returns the HTTP status of an error answered by the server, or 0
// when err did not come from an answer (the server could not be reached).
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// CodeOf returns the error code the server answered ("" if none).
func CodeOf(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// Register registers (or re-registers) a node and returns it as the
// registry knows it.
func (c *Client) Register(ctx context.Context, req RegisterRequest) (*connecthub.Node, error) {
	var out connecthub.Node
	return &out, c.do(ctx, http.MethodPost, "/api/v1/worker/register", nil, req, &out)
}

// Keepalive sends a node heartbeat and returns the node, whose
// SettingState says whether an operator wants it active. A 404 with code
// not_registered means the node must register again.
func (c *Client) Keepalive(ctx context.Context, req KeepaliveRequest) (*connecthub.Node, error) {
	var out connecthub.Node
	return &out, c.do(ctx, http.MethodPost, "/api/v1/worker/keepalive", nil, req, &out)
}

// Prestop deregisters a node that is shutting down gracefully.
func (c *Client) Prestop(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/worker/prestop", nil, protocol.PrestopRequest{Name: name}, nil)
}

// Claim asks for runs, waiting up to req.Wait on the server for some to
// arrive. The HTTP client's timeout must be longer than req.Wait.
func (c *Client) Claim(ctx context.Context, req ClaimRequest) (*ClaimResponse, error) {
	var out ClaimResponse
	return &out, c.do(ctx, http.MethodPost, "/api/v1/worker/claim", nil, req, &out)
}

// Heartbeat extends the leases of several runs at once.
func (c *Client) Heartbeat(ctx context.Context, req HeartbeatRequest) (*HeartbeatResponse, error) {
	var out HeartbeatResponse
	return &out, c.do(ctx, http.MethodPost, "/api/v1/worker/heartbeat", nil, req, &out)
}

// HeartbeatRun extends the lease of one run. A 409 means the node no
// longer holds it.
func (c *Client) HeartbeatRun(ctx context.Context, runID string, req RunHeartbeatRequest) (*RunHeartbeat, error) {
	var out RunHeartbeat
	return &out, c.do(ctx, http.MethodPost, "/api/v1/worker/runs/"+url.PathEscape(runID)+"/heartbeat", nil, req, &out)
}

// AppendRunLog appends to the log of a run the node holds. A 409 means it
// no longer does.
func (c *Client) AppendRunLog(ctx context.Context, runID string, req LogRequest) error {
	return c.do(ctx, http.MethodPost, "/api/v1/worker/runs/"+url.PathEscape(runID)+"/log", nil, req, nil)
}

// CompleteRun records how an attempt ended and returns the run after it.
// Repeating a completion that was applied answers the run again (safe to
// retry after a lost answer); a 409 means the node lost the run before
// its outcome arrived, and the outcome was not recorded.
func (c *Client) CompleteRun(ctx context.Context, runID string, req CompleteRequest) (*connecthub.Run, error) {
	var out connecthub.Run
	return &out, c.do(ctx, http.MethodPost, "/api/v1/worker/runs/"+url.PathEscape(runID)+"/complete", nil, req, &out)
}
