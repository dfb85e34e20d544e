package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/connecthub/connecthub"
)

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
	// followed by another call at once. Default MaxBatch.
	Batch int
	// Logger receives a line per rescued run. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock leases are compared with. Default time.Now.
	Now func() time.Time
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
		c.Batch = MaxBatch
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
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
type Rescuer struct {
	cfg RescuerConfig
	log *slog.Logger

	mu      sync.Mutex
	started bool
	stopped bool
	stop    chan struct{}
	done    chan struct{}
	cancel  context.CancelFunc
}

// NewRescuer returns a Rescuer; Start checks the configuration.
func NewRescuer(cfg RescuerConfig) *Rescuer {
	cfg = cfg.withDefaults()
	return &Rescuer{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "rescuer"),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// Start checks the configuration and starts rescuing every Interval. ctx's
// values are kept but its cancellation does not stop the Rescuer: Stop does.
func (r *Rescuer) Start(ctx context.Context) error {
	if err := r.cfg.validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return errors.New("rescuer: Start called twice or after Stop")
	}
	r.started = true
	var loopCtx context.Context
	loopCtx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go r.loop(loopCtx)
	return nil
}

// Stop stops the Rescuer, interrupting a rescue in progress, and waits for
// it to end or ctx to be done. It is safe to call twice and before Start.
func (r *Rescuer) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.stopped {
		r.stopped = true
		close(r.stop)
		if r.cancel != nil {
			r.cancel()
		}
		if !r.started {
			close(r.done)
		}
	}
	r.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Rescuer) loop(ctx context.Context) {
	defer close(r.done)
	ticker := time.NewTicker(r.cfg.Interval)
	defer ticker.Stop()
	for {
		if _, err := r.RescueOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("rescuing expired leases failed; will retry", "err", err)
		}
		select {
		case <-r.stop:
			return
		case <-ticker.C:
		}
	}
}

// RescueOnce rescues every run whose lease has expired now, in batches, and
// returns how many it rescued.
func (r *Rescuer) RescueOnce(ctx context.Context) (int, error) {
	total := 0
	for {
		runs, err := r.cfg.Store.RunRescue(ctx, r.cfg.Now(), r.cfg.Batch)
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
