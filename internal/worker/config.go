package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/tracing"
)

// Defaults of Config. Those with an environment variable are the process
// defaults documented in docs/configuration.md.
const (
	DefaultConcurrency     = 20               // CONNECTHUB_WORKERS
	DefaultHeartbeat       = 5 * time.Second  // CONNECTHUB_HEARTBEAT
	DefaultPollInterval    = time.Second      // fallback when no wake-up comes
	DefaultShutdownTimeout = 25 * time.Second // CONNECTHUB_SHUTDOWN_TIMEOUT
	DefaultRunLogMaxBytes  = 200 * 1024       // CONNECTHUB_RUN_LOG_MAX_BYTES
	DefaultHandlerGrace    = 3 * time.Second
	// MaxBatch bounds every batched call (claim, heartbeat, complete), so
	// that one statement never carries an unbounded list of ids.
	MaxBatch = 1000
)

// Config configures a Worker. Zero values take the documented defaults
// (see WithDefaults).
type Config struct {
	// Source is where runs come from. Required.
	Source Source
	// Registry resolves a run's snapshot handler name. Required.
	Registry *handler.Registry
	// Node names this worker in logs and outcomes; it must be the node the
	// Source claims as. Required.
	Node string
	// Concurrency is how many handlers this worker runs at once
	// (CONNECTHUB_WORKERS). The runs it holds RUNNING may exceed it by the
	// outcomes waiting to be recorded, of which there are at most
	// Concurrency (see the package doc). Default 20.
	Concurrency int
	// Heartbeat is how often the leases of the runs in flight are extended.
	// It must be well under the lease TTL. Default 5s.
	Heartbeat time.Duration
	// PollInterval is how long an idle worker waits for a wake-up before it
	// tries to claim anyway (notifications are hints and can be lost).
	// Default 1s.
	PollInterval time.Duration
	// ShutdownTimeout is how long Stop lets in-flight runs finish before it
	// cancels their contexts and hands them back. Default 25s.
	ShutdownTimeout time.Duration
	// RetryBackoffMax caps the exponential back-off between automatic
	// retries (CONNECTHUB_RETRY_BACKOFF_MAX). 0 means connecthub.MaxRetryBackoff (1h).
	RetryBackoffMax time.Duration
	// HandlerGrace is how long a handler whose context was cancelled
	// (timeout, cancel request, shutdown) may take to return before its run
	// is ended without it and its goroutine abandoned. Default 3s.
	HandlerGrace time.Duration
	// RunLogMaxBytes caps each run's stored log. Default 200 KiB.
	RunLogMaxBytes int
	// ClaimBatch is the most runs one Claim call asks for. Default
	// 2 × Concurrency, capped at MaxBatch: a claim asks for no more than
	// the free slots (at most Concurrency) and, with runs shorter than a
	// claim, the runs it claims ahead for the slots that free meanwhile
	// (at most Concurrency, see ahead.go).
	ClaimBatch int
	// Logger receives the worker's own log lines (not the runs' logs).
	// Default slog.Default().
	Logger *slog.Logger
	// Metrics, when not nil, receives the run metrics (see metrics.go).
	Metrics prometheus.Registerer
	// Tracing, when not nil, makes each run attempt a span whose context
	// the handler gets, so that its HTTP calls are child spans.
	Tracing *tracing.Tracing
	// Clock is the clock of the times recorded in outcomes (finished_at,
	// retry times), of the heartbeat period and of the claim back-off after
	// a failed claim (with its store probes). Default clock.Real(). Run
	// timeouts, polls and the drain's deadlines use real time.
	Clock clock.Clock
	// Rand returns a number in [0, 1) for the jitter of retry back-offs and
	// polls. It must be safe for concurrent use. Default math/rand/v2.
	Rand func() float64
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.HandlerGrace == 0 {
		c.HandlerGrace = DefaultHandlerGrace
	}
	if c.RunLogMaxBytes == 0 {
		c.RunLogMaxBytes = DefaultRunLogMaxBytes
	}
	if c.ClaimBatch == 0 && c.Concurrency > 0 {
		c.ClaimBatch = min(2*c.Concurrency, MaxBatch)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// validate checks a defaulted Config and names the offending field.
func (c Config) validate() error {
	var errs []error
	if c.Source == nil {
		errs = append(errs, errors.New("Source is required"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("Registry is required"))
	}
	if c.Node == "" {
		errs = append(errs, errors.New("Node is required"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("Concurrency must be at least 1, got %d", c.Concurrency))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Heartbeat", c.Heartbeat},
		{"PollInterval", c.PollInterval},
		{"ShutdownTimeout", c.ShutdownTimeout},
		{"HandlerGrace", c.HandlerGrace},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", d.name, d.v))
		}
	}
	if c.RunLogMaxBytes < 1 {
		errs = append(errs, fmt.Errorf("RunLogMaxBytes must be positive, got %d", c.RunLogMaxBytes))
	}
	if c.ClaimBatch < 1 || c.ClaimBatch > MaxBatch {
		errs = append(errs, fmt.Errorf("ClaimBatch must be between 1 and %d, got %d", MaxBatch, c.ClaimBatch))
	}
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("worker config: %s", strings.Join(msgs, "; "))
}
