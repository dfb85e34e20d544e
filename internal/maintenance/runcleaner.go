package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/startstop"
)

// DefaultRunCleanInterval is how often the RunCleaner applies the jobs'
// retention: a job with keep_runs holds at most this long's worth of runs
// beyond its limit, and a pass that finds nothing to delete costs one
// indexed read per job.
const DefaultRunCleanInterval = 10 * time.Minute

// RunCleanReport is what one retention pass did.
type RunCleanReport struct {
	Jobs    int   // jobs with a retention limit
	Deleted int64 // runs deleted
	Busy    bool  // another replica's pass was running; this one stopped
}

// RunCleanerConfig configures a RunCleaner.
type RunCleanerConfig struct {
	// Clean runs one pass and tells deleted of every batch as it commits;
	// service.Service.RetentionPass with the configured default. Required.
	Clean func(ctx context.Context, deleted func(n int64)) (RunCleanReport, error)
	// Interval between passes. Default DefaultRunCleanInterval.
	Interval time.Duration
	// StartDelay is how long after Start the first pass runs; 0 runs it
	// at once; serve waits CONNECTHUB_CLEAN_DELAY (config.Config.CleanDelay).
	StartDelay time.Duration
	Clock      clock.Clock
	Logger     *slog.Logger
	// Metrics receives connecthub_runs_deleted_total. nil: not exported.
	Metrics prometheus.Registerer
}

// RunCleaner keeps runs to their jobs' retention (keep_runs, keep_for and
// CONNECTHUB_RUN_RETENTION): once StartDelay after start, then every
// Interval. Every `serve` replica runs one; the store lets one replica's
// batches run at a time (PostgreSQL: an advisory lock; SQLite has one
// writer), and a pass that finds another replica's running stops, so
// replicas never fight over the same rows. Each pass logs one line.
type RunCleaner struct {
	startstop.Base
	cfg     RunCleanerConfig
	log     *slog.Logger
	deleted prometheus.Counter
}

// NewRunCleaner checks cfg and returns a RunCleaner; call Start to run it.
func NewRunCleaner(cfg RunCleanerConfig) (*RunCleaner, error) {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultRunCleanInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if cfg.Clean == nil {
		errs = append(errs, errors.New("Clean is required"))
	}
	if cfg.Interval < 0 {
		errs = append(errs, fmt.Errorf("Interval must be > 0, got %s", cfg.Interval))
	}
	if cfg.StartDelay < 0 {
		errs = append(errs, fmt.Errorf("StartDelay must not be negative, got %s", cfg.StartDelay))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("run cleaner: %w", err)
	}
	c := &RunCleaner{cfg: cfg, log: cfg.Logger.With("component", "run-cleaner"),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "connecthub_runs_deleted_total",
			Help: "Finished runs deleted by the retention cleaner (keep_runs, keep_for, CONNECTHUB_RUN_RETENTION).",
		})}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(c.deleted); err != nil {
			return nil, fmt.Errorf("run cleaner: register metrics: %w", err)
		}
	}
	c.OneShot = true
	return c, nil
}

// CleanOnce runs one pass now and logs it.
func (c *RunCleaner) CleanOnce(ctx context.Context) (RunCleanReport, error) {
	start := c.cfg.Clock.Now()
	rep, err := c.cfg.Clean(ctx, func(n int64) { c.deleted.Add(float64(n)) })
	took := c.cfg.Clock.Now().Sub(start).Round(time.Millisecond)
	switch {
	case err != nil && ctx.Err() != nil:
	case err != nil:
		c.log.Error("run retention pass failed; will retry", "err", err, "deleted", rep.Deleted, "took", took.String())
	case rep.Busy:
		c.log.Info("run retention pass left to another replica", "deleted", rep.Deleted)
	default:
		c.log.Info("run retention pass", "jobs", rep.Jobs, "deleted", rep.Deleted, "took", took.String())
	}
	return rep, err
}

// Start cleans after StartDelay, then every Interval, until Stop or ctx
// ends.
func (c *RunCleaner) Start(ctx context.Context) error {
	runCtx, started, stopped, err := c.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("run cleaner: %w", err)
	}
	go func() {
		started()
		defer stopped(nil)
		every(runCtx, c.cfg.Clock, c.cfg.StartDelay, c.cfg.Interval, func() { _, _ = c.CleanOnce(runCtx) })
	}()
	return nil
}

// Stop stops the cleaner and waits for a pass in progress, or until ctx
// ends. It is safe to call twice, and before Start.
func (c *RunCleaner) Stop(ctx context.Context) error { return c.StopContext(ctx) }
