package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/connecthub/connecthub"
)

// This file is the client side of the worker protocol (/api/v1/worker,
// docs/worker-protocol.md): what `connecthub worker` speaks to the servers.
// Every call carries the node's name, because the servers keep no session:
// any replica behind a load balancer can answer any call.

// Completion statuses a worker reports for an attempt.
const (
	// CompleteSuccess, CompleteFailure and CompleteCanceled end the run.
	CompleteSuccess  = "SUCCESS"
	CompleteFailure  = "FAILURE"
	CompleteCanceled = "CANCELED"
	// CompleteRetry ends the attempt with an error and re-queues the run
	// with attempt+1 after the job's back-off (computed by the server), or
	// ends it FAILURE when it has no attempts left.
	CompleteRetry = "RETRY"
	// CompleteHandBack gives the run back unexecuted (a worker shutting
	// down): it is re-queued at once with the same attempt.
	CompleteHandBack = "HANDBACK"
)

// RegisterRequest announces a node. Registering again (after a restart, or
// when the server answered not_registered) refreshes the registration.
type RegisterRequest struct {
	Name           string                   `json:"name"`
	Version        string                   `json:"version,omitempty"`
	Endpoint       string                   `json:"endpoint,omitempty"`
	Queues         []string                 `json:"queues"`
	Handlers       []connecthub.NodeHandler `json:"handlers"`
	MaxConcurrency int                      `json:"max_concurrency"`
	MetricsPort    int                      `json:"metrics_port,omitempty"`
	Labels         map[string]string        `json:"labels,omitempty"`
}

// KeepaliveRequest is a node's periodic heartbeat.
type KeepaliveRequest struct {
	Name string `json:"name"`
	// State is the node's present state: activating, active or
	// deactivating ("" = unchanged).
	State   string `json:"state,omitempty"`
	Running int    `json:"running"`
}

// ClaimRequest asks for runs. The server waits up to Wait (at most 30s)
// for runs to arrive before it answers with none.
type ClaimRequest struct {
	Name string              `json:"name"`
	Max  int                 `json:"max"`
	Wait connecthub.Duration `json:"wait"`
}

// ClaimedRun is a run leased to the node, with everything needed to
// execute it. Secrets hold the decrypted secret_cfg: keep them in memory.
type ClaimedRun struct {
	ID             string              `json:"id"`
	JobID          string              `json:"job_id"`
	Attempt        int                 `json:"attempt"`
	MaxAttempts    int                 `json:"max_attempts"`
	Handler        string              `json:"handler"`
	Queue          string              `json:"queue"`
	PublicCfg      json.RawMessage     `json:"public_cfg"`
	Secrets        map[string]any      `json:"secrets"`
	Timeout        connecthub.Duration `json:"timeout"`
	Trigger        connecthub.Trigger  `json:"trigger"`
	ScheduledFor   time.Time           `json:"scheduled_for"`
	LeaseExpiresAt time.Time           `json:"lease_expires_at"`
}

// ClaimResponse is the answer to a claim.
type ClaimResponse struct {
	Runs []ClaimedRun `json:"runs"`
	// LeaseTTL is how long a lease lasts without a heartbeat; Heartbeat is
	// how often the server expects heartbeats (well under LeaseTTL).
	LeaseTTL  connecthub.Duration `json:"lease_ttl"`
	Heartbeat connecthub.Duration `json:"heartbeat"`
}

// RunRef names one attempt of a run held by a node.
type RunRef struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
}

// HeartbeatRequest extends the leases of several runs in one call.
type HeartbeatRequest struct {
	Name string   `json:"name"`
	Runs []RunRef `json:"runs"`
}

// RunHeartbeat is the answer for one run: Lost means the node no longer
// holds this attempt (it must stop the run and record nothing);
// CancelRequested that someone asked to cancel it.
type RunHeartbeat struct {
	ID              string     `json:"id"`
	CancelRequested bool       `json:"cancel_requested"`
	Lost            bool       `json:"lost"`
	LeaseExpiresAt  *time.Time `json:"lease_expires_at,omitempty"`
}

// HeartbeatResponse answers a HeartbeatRequest, one entry per run asked
// about, in the same order.
type HeartbeatResponse struct {
	Runs []RunHeartbeat `json:"runs"`
}

// RunHeartbeatRequest extends the lease of one run.
type RunHeartbeatRequest struct {
	Name    string `json:"name"`
	Attempt int    `json:"attempt"`
}

// LogRequest appends to a run's log: Lines (each gets a newline) or a raw
// Chunk. Send whole lines: the server masks the run's secrets line by line
// too, and a secret split across two calls cannot be recognised.
type LogRequest struct {
	Name    string   `json:"name"`
	Attempt int      `json:"attempt"`
	Lines   []string `json:"lines,omitempty"`
	Chunk   string   `json:"chunk,omitempty"`
}

// CompleteRequest records how an attempt ended.
type CompleteRequest struct {
	Name      string          `json:"name"`
	Attempt   int             `json:"attempt"`
	Status    string          `json:"status"`
	Message   string          `json:"message,omitempty"`
	Error     string          `json:"error,omitempty"`
	Traceback string          `json:"traceback,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
}

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
	return c.do(ctx, http.MethodPost, "/api/v1/worker/prestop", nil, map[string]string{"name": name}, nil)
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
