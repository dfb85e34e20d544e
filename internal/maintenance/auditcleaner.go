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

// DefaultAuditCleanInterval is how often the AuditCleaner looks for
// entries past their retention: retention is counted in days, so an hour
// late is on time.
const DefaultAuditCleanInterval = time.Hour

// AuditCleanerConfig configures an AuditCleaner.
type AuditCleanerConfig struct {
	// Purge deletes the entries past retention and returns how many;
	// service.Service.AuditPurge with the configured retention. Required.
	Purge func(ctx context.Context) (int64, error)
	// Interval between passes. Default DefaultAuditCleanInterval.
	Interval time.Duration
	// StartDelay is how long after Start the first pass runs; 0 runs it
	// at once; serve waits CONNECTHUB_CLEAN_DELAY (config.Config.CleanDelay).
	StartDelay time.Duration
	Clock      clock.Clock
	Logger     *slog.Logger
}

// AuditCleaner keeps the audit log to its retention
// (CONNECTHUB_AUDIT_RETENTION): once StartDelay after start, then every
// Interval. Like the Rescuer and the NodeReaper, every `serve` replica
// runs one and needs no leader: a purge deletes the oldest entries past
// the limit in batches, so replicas that purge at once only find less to
// delete.
type AuditCleaner struct {
	startstop.Base
	cfg AuditCleanerConfig
	log *slog.Logger
}

// NewAuditCleaner returns an AuditCleaner; Start checks the configuration.
func NewAuditCleaner(cfg AuditCleanerConfig) *AuditCleaner {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultAuditCleanInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &AuditCleaner{cfg: cfg, log: cfg.Logger.With("component", "audit-cleaner")}
	c.OneShot = true
	return c
}

// Start starts cleaning: once after StartDelay, then every Interval.
func (c *AuditCleaner) Start(ctx context.Context) error {
	switch {
	case c.cfg.Purge == nil:
		return errors.New("audit cleaner: Purge is required")
	case c.cfg.Interval < 0:
		return fmt.Errorf("audit cleaner: Interval must be positive, got %s", c.cfg.Interval)
	case c.cfg.StartDelay < 0:
		return fmt.Errorf("audit cleaner: StartDelay must not be negative, got %s", c.cfg.StartDelay)
	}
	runCtx, started, stopped, err := c.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("audit cleaner: %w", err)
	}
	go func() {
		started()
		defer stopped(nil)
		every(runCtx, c.cfg.Clock, c.cfg.StartDelay, c.cfg.Interval, func() {
			n, err := c.cfg.Purge(runCtx)
			switch {
			case err != nil && runCtx.Err() == nil:
				c.log.Error("purging old audit entries failed; will retry", "err", err)
			case n > 0:
				c.log.Info("purged audit entries past their retention", "deleted", n)
			}
		})
	}()
	return nil
}

// Stop stops the cleaner and waits for it to end or ctx to be done.
func (c *AuditCleaner) Stop(ctx context.Context) error { return c.StopContext(ctx) }
