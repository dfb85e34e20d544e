package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/startstop"
)

// DefaultRescueBatch is the most runs one RunRescue call handles by
// default: the same bound as a worker's claim and completion batches, so
// that a rescue transaction is no longer than theirs.
const DefaultRescueBatch = 1000

// RescueStore is the part of the store the Rescuer needs.
type RescueStore interface {
	RunRescue(ctx context.Context, now time.Time, limit int) ([]*connecthub.Run, error)
}

// RescuerConfig configures a Rescuer. Zero values take the documented
// defaults.
type RescuerConfig struct {
	// Store finds and rescues the zombies. Required.
	Store RescueStore
	// LeaseTTL is the lease length, used only to derive the default
	// Interval. Default 30s.
	LeaseTTL time.Duration
	// Interval is how often expired leases are looked for. Default
	// min(5s, LeaseTTL/2), so a zombie waits at most half a lease more.
	Interval time.Duration
	// Batch is the most runs one RunRescue call handles; a full batch is
	// followed by another call at once. Default DefaultRescueBatch.
	Batch int
	// Logger receives a line per rescued run. Default slog.Default().
	Logger *slog.Logger
	// Clock is what leases are compared with, and times the passes.
	// Default clock.Real().
	Clock clock.Clock
}

// withDefaults fills zero fields.
func (c RescuerConfig) withDefaults() RescuerConfig {
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = min(5*time.Second, c.LeaseTTL/2)
	}
	if c.Batch == 0 {
		c.Batch = DefaultRescueBatch
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	return c
}

func (c RescuerConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("rescuer config: Store is required")
	case c.Interval <= 0:
		return fmt.Errorf("rescuer config: Interval must be positive, got %s", c.Interval)
	case c.Batch < 1:
		return fmt.Errorf("rescuer config: Batch must be at least 1, got %d", c.Batch)
	}
	return nil
}

// Rescuer periodically re-queues the runs whose lease expired (their worker
// died or hung): the store re-queues a run with attempts left and ends the
// others FAILURE "worker lost". It publishes nothing itself: the store driver
// notifies the workers of re-queued runs. Every `serve` replica runs one;
// RunRescue is safe to run concurrently.
//
// Its lifecycle is startstop's: cancelling Start's context stops it as Stop
// does, and a stopped Rescuer does not start again.
type Rescuer struct {
	startstop.Base
	cfg RescuerConfig
	log *slog.Logger
}

// NewRescuer returns a Rescuer; Start checks the configuration.
func NewRescuer(cfg RescuerConfig) *Rescuer {
	cfg = cfg.withDefaults()
	r := &Rescuer{cfg: cfg, log: cfg.Logger.With("component", "rescuer")}
	r.OneShot = true
	return r
}

// Interval returns how often the Rescuer looks for expired leases.
func (r *Rescuer) Interval() time.Duration { return r.cfg.Interval }

// Start checks the configuration and starts rescuing: once at once, then
// every Interval.
func (r *Rescuer) Start(ctx context.Context) error {
	if err := r.cfg.validate(); err != nil {
		return err
	}
	runCtx, started, stopped, err := r.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("rescuer: %w", err)
	}
	go func() {
		started()
		defer stopped(nil)
		every(runCtx, r.cfg.Clock, 0, r.cfg.Interval, func() {
			if _, err := r.RescueOnce(runCtx); err != nil && runCtx.Err() == nil {
				r.log.Error("rescuing expired leases failed; will retry", "err", err)
			}
		})
	}()
	return nil
}

// Stop stops the Rescuer, interrupting a rescue in progress, and waits for
// it to end or ctx to be done. It is safe to call twice and before Start.
func (r *Rescuer) Stop(ctx context.Context) error { return r.StopContext(ctx) }

// RescueOnce rescues every run whose lease has expired now, in batches, and
// returns how many it rescued.
func (r *Rescuer) RescueOnce(ctx context.Context) (int, error) {
	total := 0
	for {
		runs, err := r.cfg.Store.RunRescue(ctx, r.cfg.Clock.Now(), r.cfg.Batch)
		if err != nil {
			return total, err
		}
		for _, run := range runs {
			if run.Status == connecthub.StatusQueued {
				r.log.Warn("rescued a run whose lease expired; re-queued",
					"run_id", run.ID, "job_id", run.JobID, "attempt", run.Attempt, "max_attempts", run.MaxAttempts)
			} else {
				r.log.Warn("rescued a run whose lease expired; no attempts left",
					"run_id", run.ID, "job_id", run.JobID, "status", run.Status, "error", run.Error)
			}
		}
		total += len(runs)
		if len(runs) < r.cfg.Batch || ctx.Err() != nil {
			return total, nil
		}
	}
}
