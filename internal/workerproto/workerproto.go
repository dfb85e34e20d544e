// Package workerproto is the server side of the worker protocol
// (/api/v1/worker, docs/worker-protocol.md): how `connecthub worker` and
// workers in other languages register, claim runs, keep their leases,
// append to their logs and record outcomes.
//
// It holds the protocol's rules (who may report on an attempt, what a
// repeated completion answers, what a RETRY's back-off is, how logs are
// masked and capped) and takes and returns the wire types of package
// protocol, so that a transport (internal/httpapi) only decodes requests,
// calls a Service and encodes its answers. Errors are *connecthub.Error
// values whose kinds the transport maps to its statuses.
//
// The servers keep no session for a worker: every call names the node and
// the attempt it concerns, and all state lives in the database, so any
// replica behind a load balancer answers any call the same way.
package workerproto

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/worker"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
)

// Store is the part of store.Store the protocol uses: what the in-process
// worker's LocalSource uses, and reading a run.
type Store interface {
	worker.LocalStore
	RunGet(ctx context.Context, id string) (*connecthub.Run, error)
	RunLogHeldGet(ctx context.Context, runID string, attempt int) (string, error)
}

// Nodes is the node registry as the protocol uses it; *node.Registry
// implements it.
type Nodes interface {
	// Register upserts a node; its present state becomes activating.
	Register(ctx context.Context, n *connecthub.Node) (*connecthub.Node, error)
	// Keepalive records a heartbeat; KindNotFound when the node must
	// register again.
	Keepalive(ctx context.Context, name, presentState string, running int) (*connecthub.Node, error)
	// Prestop deregisters a node that stops gracefully.
	Prestop(ctx context.Context, name string) error
	// Get returns a node; KindNotFound if none.
	Get(ctx context.Context, name string) (*connecthub.Node, error)
}

// Config wires a Service.
type Config struct {
	Store Store
	Nodes Nodes
	// Keys decrypts runs' secret_cfg for the workers that claim them.
	Keys runrules.Decrypter
	// LeaseTTL is the lease a claim grants and a heartbeat extends
	// (CONNECTHUB_LEASE_TTL). Default 30s.
	LeaseTTL time.Duration
	// Heartbeat is the heartbeat interval the server asks of workers
	// (CONNECTHUB_HEARTBEAT). Default 5s.
	Heartbeat time.Duration
	// RunLogMaxBytes caps a run's stored log, whatever the worker sends
	// (CONNECTHUB_RUN_LOG_MAX_BYTES). Default runlog.DefaultMaxBytes.
	RunLogMaxBytes int
	// RetryBackoffMax caps the back-off of a RETRY outcome
	// (CONNECTHUB_RETRY_BACKOFF_MAX); 0 = connecthub.MaxRetryBackoff.
	RetryBackoffMax time.Duration
	// PollInterval is how often a waiting claim looks for runs when no
	// notification came (runs whose retry back-off ended send none).
	// Default 1s.
	PollInterval time.Duration
	// Ready, when set, is asked at each poll of a waiting claim; a server
	// that is not ready (it is draining) ends the wait, so that a long
	// poll does not hold a shutdown up.
	Ready func(ctx context.Context) (ready bool, reason string)
	// Clock tells the time of claims, leases and outcomes and times the
	// waits; nil = clock.Real().
	Clock clock.Clock
	// Rand returns numbers in [0,1) for the jitter of back-offs and polls;
	// nil = math/rand/v2.Float64.
	Rand func() float64
	// ServerSecrets are the server's own secrets (runrules.ServerSecrets):
	// they are masked out of every text a worker reports, as the run's
	// own secrets are.
	ServerSecrets []string
	// ServerMasks, when set, replaces ServerSecrets with secrets that may
	// change while the server runs (notification channels' secrets).
	ServerMasks *runrules.ServerMasks
	Logger      *slog.Logger
}

// Service serves the worker protocol. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	// serverMasks masks the server's own secrets; each run's masker is
	// built on it, so that their patterns are computed once.
	serverMasks *runrules.ServerMasks
}

// handBackTimeout bounds the writes that give runs back after their
// claimer went away: they run after the request's context ended.
const handBackTimeout = 10 * time.Second

// New checks cfg, applies its defaults and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Nodes == nil || cfg.Keys == nil {
		return nil, errors.New("workerproto: Store, Nodes and Keys are required")
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.RunLogMaxBytes <= 0 {
		cfg.RunLogMaxBytes = runlog.DefaultMaxBytes
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	masks := cfg.ServerMasks
	if masks == nil {
		masks = runrules.FixedServerMasks(cfg.ServerSecrets)
	}
	return &Service{cfg: cfg, log: cfg.Logger, serverMasks: masks}, nil
}

// now is the time of a decision, in UTC as the store keeps it.
func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC() }

var (
	nodeNamePattern  = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	errNotRegistered = &connecthub.Error{Kind: connecthub.KindNotFound, Code: "not_registered", Field: "name",
		Message: "this node is not registered (it was removed or never registered): register again"}
)

// LeaseLost is the error of a call about an attempt the node no longer
// holds (KindConflict, code lease_lost): the worker must stop the run and
// record nothing.
func LeaseLost(id string) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "lease_lost",
		Message: "this node no longer holds this attempt of run " + id + " (its lease expired and the run was rescued, or it ended): stop it and record nothing"}
}

func checkNodeName(name string) error {
	if !nodeNamePattern.MatchString(name) {
		return connecthub.FieldError("name", "", "name is required: 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	return nil
}

func checkAttempt(attempt int) error {
	if attempt < 1 {
		return connecthub.FieldError("attempt", "", "attempt is required: the attempt number the run was claimed with (at least 1)")
	}
	return nil
}
