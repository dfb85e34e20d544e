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

// maxReapInterval caps the NodeReaper's default period, so that a long
// DeadAfter does not also make detection late by a long period.
const maxReapInterval = 5 * time.Second

// NodeReapStore is the part of the store the NodeReaper needs: one
// idempotent transaction that marks the nodes silent since before
// deadBefore inactive and rescues their RUNNING runs.
type NodeReapStore interface {
	NodeMarkDead(ctx context.Context, deadBefore, now time.Time) ([]*connecthub.Node, []*connecthub.Run, error)
}

// NodeReaperConfig configures a NodeReaper. Zero values take the
// documented defaults.
type NodeReaperConfig struct {
	// Store keeps the nodes. Required.
	Store NodeReapStore
	// DeadAfter is how long a node may stay silent before it is declared
	// dead: the node registry's (node.Registry.DeadAfter). Required.
	DeadAfter time.Duration
	// Interval is how often the reaper looks for dead nodes. Default
	// min(DeadAfter/3, 5s): a dead node is noticed within DeadAfter plus
	// one Interval.
	Interval time.Duration
	// Clock is what heartbeats are compared with, and times the passes.
	// Default clock.Real().
	Clock clock.Clock
	// Logger receives dead nodes and rescued runs. Default: discard.
	Logger *slog.Logger
}

func (c NodeReaperConfig) withDefaults() NodeReaperConfig {
	if c.Interval == 0 {
		c.Interval = min(c.DeadAfter/3, maxReapInterval)
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c NodeReaperConfig) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if c.DeadAfter <= 0 {
		errs = append(errs, fmt.Errorf("DeadAfter must be > 0, got %s", c.DeadAfter))
	}
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("Interval must be > 0, got %s", c.Interval))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node reaper: %w", err)
	}
	return nil
}

// NodeReaper declares dead the nodes that stopped sending keepalives and
// rescues their runs at once, instead of waiting for the runs' leases to
// expire. Every `serve` replica runs one; marking a node dead is one
// idempotent transaction, so they do not conflict.
//
// Its lifecycle is startstop's: cancelling Start's context stops it as Stop
// does, and it may be started again after it stopped.
type NodeReaper struct {
	startstop.Base
	cfg NodeReaperConfig
	log *slog.Logger
}

// NewNodeReaper checks cfg and returns a NodeReaper; call Start to run it.
func NewNodeReaper(cfg NodeReaperConfig) (*NodeReaper, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &NodeReaper{cfg: cfg, log: cfg.Logger}, nil
}

// Interval returns how often the reaper looks for dead nodes.
func (r *NodeReaper) Interval() time.Duration { return r.cfg.Interval }

// ReapOnce runs one pass of dead detection now: every node silent for
// longer than DeadAfter becomes inactive, and its RUNNING runs are rescued
// (re-queued, or FAILURE "worker lost" without attempts left). It returns
// the nodes declared dead and the runs rescued.
func (r *NodeReaper) ReapOnce(ctx context.Context) ([]*connecthub.Node, []*connecthub.Run, error) {
	now := r.cfg.Clock.Now().UTC()
	dead, rescued, err := r.cfg.Store.NodeMarkDead(ctx, now.Add(-r.cfg.DeadAfter), now)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range dead {
		r.log.WarnContext(ctx, "node declared dead: no keepalive", "node", n.Name, "kind", n.Kind,
			"last_heartbeat", n.LastHeartbeat.Format(time.RFC3339Nano), "dead_after", r.cfg.DeadAfter.String())
	}
	for _, run := range rescued {
		r.log.WarnContext(ctx, "run rescued from a dead node", "run", run.ID, "job", run.JobID,
			"status", run.Status, "attempt", run.Attempt)
	}
	return dead, rescued, nil
}

// Start runs ReapOnce every Interval, the first one Interval after Start,
// until Stop or until ctx is cancelled. Starting while it runs is an error.
func (r *NodeReaper) Start(ctx context.Context) error {
	runCtx, started, stopped, err := r.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("node reaper: %w", err)
	}
	go func() {
		started()
		defer stopped(nil)
		failing := false
		every(runCtx, r.cfg.Clock, r.cfg.Interval, r.cfg.Interval, func() {
			// A pass must not outlive the period by much, or passes would
			// pile up behind a slow database.
			passCtx, cancel := context.WithTimeout(runCtx, max(r.cfg.Interval, 5*time.Second))
			_, _, err := r.ReapOnce(passCtx)
			cancel()
			switch {
			case err != nil && runCtx.Err() != nil:
				// Stopped during the pass: not a failure.
			case err != nil && !failing:
				// Once per failing streak: a database outage must not flood
				// the log every few seconds.
				r.log.ErrorContext(runCtx, "dead node detection failed; retrying", "err", err, "every", r.cfg.Interval.String())
				failing = true
			case err != nil:
				r.log.DebugContext(runCtx, "dead node detection still failing", "err", err)
			case failing:
				r.log.InfoContext(runCtx, "dead node detection works again")
				failing = false
			}
		})
	}()
	return nil
}

// Stop ends the reaper and waits for a pass in progress, or until ctx
// ends. It is safe to call twice, and before Start.
func (r *NodeReaper) Stop(ctx context.Context) error { return r.StopContext(ctx) }
