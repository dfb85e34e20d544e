package maintenance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/startstop"
)

// DefaultCompactInterval is how often the StatsCompactor runs by default.
// On PostgreSQL it bounds the deltas a stats read sums besides the folded
// counts (one row per job, status and hour per write statement since the
// last pass), so reads stay a few milliseconds at any write rate.
const DefaultCompactInterval = 10 * time.Second

// StatsCompactStore is the part of the store the StatsCompactor needs.
type StatsCompactStore interface {
	StatsCompact(ctx context.Context, now time.Time) error
}

// StatsCompactorConfig configures a StatsCompactor. Zero values take the
// documented defaults.
type StatsCompactorConfig struct {
	// Store keeps the counts. Required.
	Store StatsCompactStore
	// Interval is the time between passes. Default DefaultCompactInterval.
	Interval time.Duration
	// Clock times the passes and is the "now" whose old hours are pruned.
	// Default clock.Real().
	Clock clock.Clock
	// Logger receives failures. Default: discard.
	Logger *slog.Logger
}

// StatsCompactor keeps the maintained run counts small: every Interval it
// calls StatsCompact, which folds the deltas PostgreSQL's triggers append
// into the counts, drops zero counts and prunes hourly counts older than
// store.HourlyRetention. Every replica runs one; a pass that finds another
// replica's in progress skips, and the counts read the same before and
// after a pass, so nothing depends on when it runs.
type StatsCompactor struct {
	startstop.Base
	cfg StatsCompactorConfig
}

// NewStatsCompactor checks cfg and returns a StatsCompactor; call Start to
// run it.
func NewStatsCompactor(cfg StatsCompactorConfig) (*StatsCompactor, error) {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultCompactInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if cfg.Interval < 0 {
		errs = append(errs, fmt.Errorf("Interval must be > 0, got %s", cfg.Interval))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("stats compactor: %w", err)
	}
	return &StatsCompactor{cfg: cfg}, nil
}

// CompactOnce runs one pass now.
func (c *StatsCompactor) CompactOnce(ctx context.Context) error {
	return c.cfg.Store.StatsCompact(ctx, c.cfg.Clock.Now().UTC())
}

// Start runs CompactOnce every Interval, the first one Interval after
// Start, until Stop or until ctx is cancelled.
func (c *StatsCompactor) Start(ctx context.Context) error {
	runCtx, started, stopped, err := c.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("stats compactor: %w", err)
	}
	go func() {
		started()
		defer stopped(nil)
		failing := false
		every(runCtx, c.cfg.Clock, c.cfg.Interval, c.cfg.Interval, func() {
			passCtx, cancel := context.WithTimeout(runCtx, max(c.cfg.Interval, 5*time.Second))
			err := c.CompactOnce(passCtx)
			cancel()
			switch {
			case err != nil && runCtx.Err() != nil:
			case err != nil && !failing:
				// Once per failing streak, like the other cleaners.
				c.cfg.Logger.ErrorContext(runCtx, "stats compaction failed; retrying", "err", err, "every", c.cfg.Interval.String())
				failing = true
			case err == nil && failing:
				c.cfg.Logger.InfoContext(runCtx, "stats compaction works again")
				failing = false
			}
		})
	}()
	return nil
}

// Stop ends the compactor and waits for a pass in progress, or until ctx
// ends. It is safe to call twice, and before Start.
func (c *StatsCompactor) Stop(ctx context.Context) error { return c.StopContext(ctx) }
