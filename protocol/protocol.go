// Package protocol defines the messages of ConnectHub's worker protocol
// (/api/v1/worker, docs/worker-protocol.md): what a worker sends to register,
// keep itself alive, claim runs, keep their leases, append to their logs and
// record how they ended, and what the servers answer.
//
// The types live here, in a small public package of their own, so that they
// are written once: the client package (which `connecthub worker` and Go
// programs use) and the server side of the protocol both import them, and a
// field cannot be added to one side and forgotten on the other. The package
// holds data and the protocol's fixed bounds only, no behaviour.
package protocol

import (
	"encoding/json"
	"time"

	"github.com/connecthub/connecthub"
)

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

// Bounds the servers enforce on a worker's requests.
const (
	// MaxClaimWait is the longest a claim may wait for runs on the server.
	MaxClaimWait = 30 * time.Second
	// MaxClaimRuns is the most runs one claim may ask for, and the most
	// runs one batched heartbeat may name.
	MaxClaimRuns = 1000
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

// PrestopRequest deregisters a node that is shutting down gracefully.
type PrestopRequest struct {
	Name string `json:"name"`
}

// ClaimRequest asks for runs. The server waits up to Wait (at most
// MaxClaimWait) for runs to arrive before it answers with none.
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
	// Upstream is the run whose end started this one (trigger chain),
	// absent for other runs.
	Upstream *connecthub.Upstream `json:"upstream,omitempty"`
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
