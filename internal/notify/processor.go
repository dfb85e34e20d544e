package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/startstop"
)

// ProcessorStore is the part of the store the Processor needs.
type ProcessorStore interface {
	AlertProcess(ctx context.Context, now time.Time, limit int) (int, error)
	AlertCheck(ctx context.Context, now time.Time) (int, error)
	AlertPending(ctx context.Context) (bool, error)
	NotificationPrune(ctx context.Context, before time.Time, limit int) (int64, error)
}

// ProcessorConfig configures a Processor. Zero values take the defaults.
type ProcessorConfig struct {
	Store ProcessorStore // required
	// Interval is how often recorded events are looked for. Default 1s:
	// a look is one indexed read of an empty table while all is well, and
	// it bounds how late a failure alert leaves.
	Interval time.Duration
	// CheckInterval is how often missed slots and long runs are looked
	// for. Default 30s.
	CheckInterval time.Duration
	// Batch is the most events one transaction consumes. Default 200.
	Batch int
	// Retention is how long sent and failed notifications stay in the
	// delivery log. Default 30 days; pruned once an hour.
	Retention time.Duration
	// Notified is called after notifications were written (to wake the
	// sender). Optional.
	Notified func()
	Clock    clock.Clock
	Logger   *slog.Logger
}

// Processor turns recorded events and checked conditions into
// notifications. Every replica runs one; the store serializes them, so
// any surviving replica detects a missed slot even when no scheduler is
// alive.
type Processor struct {
	startstop.Base
	cfg       ProcessorConfig
	log       *slog.Logger
	lastCheck time.Time
	lastPrune time.Time
}

// DefaultRetention is how long the delivery log keeps what was sent or
// given up.
const DefaultRetention = 30 * 24 * time.Hour

// pruneEvery is how often the delivery log is pruned, and pruneBatch how
// many rows one delete removes at most.
const (
	pruneEvery = time.Hour
	pruneBatch = 1000
)

// NewProcessor returns a Processor; Start checks the configuration.
func NewProcessor(cfg ProcessorConfig) *Processor {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = 30 * time.Second
	}
	if cfg.Batch == 0 {
		cfg.Batch = 200
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Processor{cfg: cfg, log: cfg.Logger.With("component", "notify-processor")}
}

// Start starts processing.
func (p *Processor) Start(ctx context.Context) error {
	if p.cfg.Store == nil {
		return errors.New("notify processor: Store is required")
	}
	runCtx, started, stopped, err := p.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("notify processor: %w", err)
	}
	go func() {
		started()
		defer stopped(nil)
		loop(runCtx, p.cfg.Clock, p.cfg.Interval, nil, func() {
			if err := p.Once(runCtx); err != nil && runCtx.Err() == nil {
				p.log.Error("processing alerts failed; will retry", "err", err)
			}
		})
	}()
	return nil
}

// Stop stops the processor.
func (p *Processor) Stop(ctx context.Context) error { return p.StopContext(ctx) }

// Once consumes the recorded events and, when CheckInterval has passed,
// runs the check.
func (p *Processor) Once(ctx context.Context) error {
	wrote := 0
	defer func() {
		if wrote > 0 && p.cfg.Notified != nil {
			p.cfg.Notified()
		}
	}()
	pending, err := p.cfg.Store.AlertPending(ctx)
	if err != nil {
		return err
	}
	for pending && ctx.Err() == nil {
		n, err := p.cfg.Store.AlertProcess(ctx, p.cfg.Clock.Now(), p.cfg.Batch)
		if err != nil {
			return err
		}
		wrote += n
		pending = n == p.cfg.Batch
	}
	now := p.cfg.Clock.Now()
	if now.Sub(p.lastCheck) >= p.cfg.CheckInterval {
		n, err := p.cfg.Store.AlertCheck(ctx, now)
		if err != nil {
			return err
		}
		p.lastCheck = now
		wrote += n
	}
	if now.Sub(p.lastPrune) >= pruneEvery {
		for {
			n, err := p.cfg.Store.NotificationPrune(ctx, now.Add(-p.cfg.Retention), pruneBatch)
			if err != nil {
				return err
			}
			if n < pruneBatch {
				break
			}
		}
		p.lastPrune = now
	}
	return nil
}
