package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/startstop"
	"github.com/connecthub/connecthub/internal/store"
)

// Store is the part of the storage contract the scheduler uses; see
// store.JobStore and store.Notifier for the semantics it relies on.
type Store interface {
	JobListDue(ctx context.Context, before time.Time, limit int) ([]*connecthub.Job, error)
	JobNextDue(ctx context.Context) (*time.Time, error)
	JobsFire(ctx context.Context, fires []store.JobFireParams) ([]store.JobFireResult, error)
	Subscribe(topic store.Topic) (<-chan struct{}, func())
	CalendarGet(ctx context.Context, name string) (*connecthub.Calendar, error)
}

// Defaults of Config. See the package documentation for why the grace is
// what it is, and Config.MaxIdle for the idle interval.
const (
	DefaultMisfireGrace    = 30 * time.Second
	DefaultMaxSlotsPerPass = 1000
	DefaultBatchSize       = 1000
	DefaultMaxIdle         = 5 * time.Second
)

// Config configures a Scheduler. Zero values take the documented defaults.
type Config struct {
	// Store is the database. Required.
	Store Store
	// Clock tells the time and makes the loop's timer. Default clock.Real().
	Clock clock.Clock
	// Logger receives errors (as Error), misfires (Info) and per-pass
	// details (Debug). Default: discard.
	Logger *slog.Logger

	// MisfireGrace is how late a slot may fire and still count as on time
	// (default 30s). A later slot was missed, and the job's misfire policy
	// decides whether it fires.
	MisfireGrace time.Duration
	// MaxSlotsPerPass bounds the runs one job gets in one pass when it
	// catches up with misfire=all (default 1000). The remaining slots fire
	// in the following passes, which start at once, so one job with a long
	// backlog cannot make a pass, or its transaction, unbounded.
	MaxSlotsPerPass int
	// BatchSize is the number of jobs listed and fired per store round trip
	// (default 1000). A pass repeats rounds while they come back full.
	BatchSize int
	// MaxIdle is the longest the loop sleeps without re-reading the
	// database (default 5s). Notifications normally wake it at once, but
	// they are hints: they may be lost (a PostgreSQL listener reconnecting),
	// they do not cross processes on SQLite, and the wall clock may be
	// stepped while a timer runs on the monotonic clock. MaxIdle bounds the
	// delay any of these can cause, and it must stay well under MisfireGrace
	// so that such a slot still fires as on time; 5s is six times under the
	// default grace, for the cost of two indexed queries every 5s.
	MaxIdle time.Duration
	// Metrics, when set, receives connecthub_scheduler_fire_delay_seconds
	// and connecthub_scheduler_pass_errors_total.
	Metrics prometheus.Registerer
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MisfireGrace == 0 {
		c.MisfireGrace = DefaultMisfireGrace
	}
	if c.MaxSlotsPerPass == 0 {
		c.MaxSlotsPerPass = DefaultMaxSlotsPerPass
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = DefaultMaxIdle
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("scheduler: Config.Store is required")
	case c.MisfireGrace < 0:
		return fmt.Errorf("scheduler: Config.MisfireGrace must not be negative, got %v", c.MisfireGrace)
	case c.MaxSlotsPerPass < 0:
		return fmt.Errorf("scheduler: Config.MaxSlotsPerPass must not be negative, got %d", c.MaxSlotsPerPass)
	case c.BatchSize < 0:
		return fmt.Errorf("scheduler: Config.BatchSize must not be negative, got %d", c.BatchSize)
	case c.MaxIdle < 0:
		return fmt.Errorf("scheduler: Config.MaxIdle must not be negative, got %v", c.MaxIdle)
	}
	return nil
}

// Retry back-off after a failed pass: doubling from minBackoff, capped at
// maxBackoff (and at MaxIdle, since waiting longer than the idle interval
// would be slower than polling), with jitter so that replicas do not hammer
// a recovering database in step.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// spinGuard is the wait when the database says a job is due but a pass
// found nothing to fire, an inconsistency that must not become a busy loop.
const spinGuard = time.Second

// maxRunsPerFire bounds the runs of one JobsFire call, to keep write
// transactions short: a SQLite writer holds the database for all of them.
// A single job's firing is never split (MaxSlotsPerPass bounds it).
const maxRunsPerFire = 5000

// requestedBy is recorded in the snapshot of the runs the scheduler makes.
const requestedBy = "scheduler"

// Scheduler fires due cron slots as runs. See the package documentation.
//
// Its lifecycle is startstop's: cancelling Start's context stops it as Stop
// does, and it may be started again after it stopped.
type Scheduler struct {
	startstop.Base
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	cache   *cache
}

// New returns a scheduler for cfg, after filling defaults and checking it.
func New(cfg Config) (*Scheduler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("scheduler: register metrics: %w", err)
	}
	return &Scheduler{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "scheduler"),
		metrics: m,
		cache:   newCache(),
	}, nil
}

// Start starts the scheduling loop in a goroutine and returns. The loop
// runs until Stop is called or ctx is done. Start after the loop ended
// starts a new one; Start while it runs, or with a context already done, is
// an error.
func (s *Scheduler) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("scheduler: start: %w", err)
	}
	runCtx, started, stopped, err := s.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	// Subscribe before the first pass, so a job created while that pass
	// runs still wakes the loop.
	wake, unsubscribe := s.cfg.Store.Subscribe(store.TopicJobs)
	go func() {
		defer stopped(nil)
		defer unsubscribe()
		started()
		s.loop(runCtx, wake)
	}()
	return nil
}

// Stop stops the loop and waits for it to exit, or returns ctx's error if
// it does not exit in time (a store call it was in has not returned). Stop
// is safe to call twice and before Start.
func (s *Scheduler) Stop(ctx context.Context) error {
	if err := s.StopContext(ctx); err != nil {
		return fmt.Errorf("scheduler: stop: %w", err)
	}
	return nil
}

// loop alternates passes and waits until ctx is done. It never exits on an
// error: a failed pass is logged and retried with back-off.
func (s *Scheduler) loop(ctx context.Context, wake <-chan struct{}) {
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	failures := 0
	for {
		delay, err := s.cycle(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			delay = s.backoff(failures)
			s.metrics.passErrors.Inc()
			s.log.Error("scheduler pass failed; retrying", "err", err, "failures", failures, "retry_in", delay)
		} else {
			failures = 0
		}
		if delay <= 0 {
			continue // more is due at once (a catch-up continues)
		}
		// The timer is armed only while the loop waits, so "a timer is
		// pending" means "the loop is idle", which tests rely on.
		if timer == nil {
			timer = s.cfg.Clock.NewTimer(delay)
		} else {
			timer.Reset(delay)
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		case <-wake:
			timer.Stop()
		}
	}
}

// cycle runs one pass and returns how long to wait before the next.
func (s *Scheduler) cycle(ctx context.Context, wake <-chan struct{}) (time.Duration, error) {
	st, err := s.pass(ctx)
	if err != nil {
		return 0, err
	}
	// A notification that arrived during the pass is about a change that
	// JobNextDue below already sees, including the pass's own writes if the
	// driver publishes them; consuming it avoids a redundant pass. A change
	// committed after this point notifies again.
	select {
	case <-wake:
	default:
	}
	next, err := s.cfg.Store.JobNextDue(ctx)
	if err != nil {
		return 0, fmt.Errorf("next due job: %w", err)
	}
	delay := s.cfg.MaxIdle
	if next != nil {
		delay = min(delay, max(next.Sub(s.cfg.Clock.Now()), 0))
	}
	if delay == 0 && st.jobs == 0 {
		s.log.Warn("a job is due but the pass found none to fire; waiting before the next pass", "next_run_at", next, "wait", spinGuard)
		delay = min(spinGuard, s.cfg.MaxIdle)
	}
	return delay, nil
}

// backoff returns the wait after the given number of consecutive failures.
func (s *Scheduler) backoff(failures int) time.Duration {
	d := min(minBackoff<<min(failures-1, 16), maxBackoff, s.cfg.MaxIdle)
	if half := int64(d / 2); half > 0 {
		d = time.Duration(half + rand.Int64N(half+1)) // uniform over [d/2, d]
	}
	return d
}

// Tick runs one pass: it fires every slot due now, in batches, and returns
// the number of runs it inserted (QUEUED, or SKIPPED by concurrency forbid).
// The loop calls it; it is exported for tests and benchmarks. It is safe to
// call concurrently with the loop and from several replicas.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	st, err := s.pass(ctx)
	return st.inserted, err
}

// passStats summarises a pass.
type passStats struct {
	jobs     int // jobs examined
	applied  int // jobs whose firing this replica applied
	lost     int // jobs another replica (or an edit) changed first
	inserted int // runs inserted, QUEUED or SKIPPED
	skipped  int // of which SKIPPED (concurrency forbid)
	missed   int // jobs that were due longer ago than the grace
}

// pass fires due jobs in rounds of BatchSize until a round comes back short.
// A job is handled at most once per pass, even if it is still due after its
// round (a misfire=all catch-up continuing): that bounds its runs per pass
// by MaxSlotsPerPass and ends the pass when only such jobs remain, and the
// loop starts the next pass at once. The store lists the oldest slots first,
// so while more than BatchSize jobs catch up, jobs due later wait for them.
func (s *Scheduler) pass(ctx context.Context) (passStats, error) {
	var st passStats
	seen := make(map[string]struct{})
	cals := passCalendars{}
	for {
		now := s.cfg.Clock.Now()
		jobs, err := s.cfg.Store.JobListDue(ctx, now, s.cfg.BatchSize)
		if err != nil {
			return st, fmt.Errorf("list due jobs: %w", err)
		}
		fires := make([]store.JobFireParams, 0, len(jobs))
		fresh := 0
		for _, j := range jobs {
			if _, ok := seen[j.ID]; ok {
				continue
			}
			seen[j.ID] = struct{}{}
			fresh++
			cal, err := cals.get(ctx, s.cfg.Store, j.Calendar)
			if err != nil {
				return st, err
			}
			f, missed, ok := s.plan(j, cal, now)
			if !ok {
				continue
			}
			fires = append(fires, f)
			if missed {
				st.missed++
			}
		}
		st.jobs += fresh
		if err := s.fire(ctx, fires, &st); err != nil {
			return st, err
		}
		if len(jobs) < s.cfg.BatchSize || fresh == 0 {
			if st.missed > 0 {
				// Worth an operator's attention: these jobs were due long
				// ago, so no scheduler ran (or kept up) for a while. One
				// line per pass, not per job: after an outage that can be
				// every job. The jobs are logged at debug level.
				s.log.Info("jobs missed slots; applied their misfire policies", "jobs", st.missed, "runs", st.inserted)
			}
			if st.jobs > 0 {
				s.log.Debug("scheduler pass", "jobs", st.jobs, "applied", st.applied, "lost", st.lost,
					"runs", st.inserted, "skipped", st.skipped)
			}
			return st, nil
		}
	}
}

// plan decides what firing job j at now means, and whether the job missed
// slots (was due longer ago than the grace). It returns ok false for a job
// that is not actually due (a store that disagrees with the contract).
//
// cal is the job's calendar, when it names one (see passCalendars): only
// the slots it lets through count as slots, for firing, for the misfire
// policies and for the next pending slot.
func (s *Scheduler) plan(j *connecthub.Job, cal *calendarState, now time.Time) (f store.JobFireParams, missed, ok bool) {
	if j.NextRunAt == nil || j.NextRunAt.After(now) {
		return store.JobFireParams{}, false, false
	}
	prev := *j.NextRunAt
	f = store.JobFireParams{
		JobID:         j.ID,
		PrevNextRunAt: prev,
		Concurrency:   j.Concurrency,
		Now:           now,
	}
	if f.Concurrency == "" {
		f.Concurrency = connecthub.ConcurrencyForbid
	}
	sched, err := s.cache.schedule(j.CronExpr)
	if j.CronExpr == "" {
		err = errors.New("no cron expression")
	}
	if err != nil {
		// The API validates expressions, so this is a bug or a manual edit
		// of the database. Clearing next_run_at stops the job from being
		// due, and retried, on every pass; saving the job again fixes it.
		s.log.Error("job has a next_run_at but no valid cron expression; clearing next_run_at",
			"job", j.ID, "cron_expr", j.CronExpr, "err", err)
		return f, false, true
	}
	loc, err := s.cache.location(j.Timezone)
	if err != nil {
		s.log.Warn("job has an unknown time zone; using UTC", "job", j.ID, "timezone", j.Timezone, "err", err)
	}
	next := func(t time.Time) time.Time { return sched.Next(t, loc).UTC() }
	if cal != nil {
		var stop bool
		if next, prev, stop = s.calendarSlots(j, cal, loc, next, prev, now); stop {
			if !prev.IsZero() {
				f.NextRunAt = &prev
			}
			return f, false, true
		}
	}

	misfire := j.Misfire
	switch misfire {
	case connecthub.MisfireSkip, connecthub.MisfireOnce, connecthub.MisfireAll:
	default:
		misfire = connecthub.MisfireOnce
	}
	fire, after := slots(next, prev, now, policy{
		misfire: misfire,
		window:  j.MisfireWindow.D(),
		grace:   s.cfg.MisfireGrace,
		max:     s.cfg.MaxSlotsPerPass,
	})
	if !after.IsZero() {
		f.NextRunAt = &after
	}
	if n := len(fire); n > 0 {
		last := fire[n-1]
		f.LastRunAt = &last
		f.Runs = make([]*connecthub.Run, n)
		for i, slot := range fire {
			f.Runs[i] = connecthub.NewRun(j, connecthub.TriggerCron, slot, now, requestedBy)
		}
	}
	if late := now.Sub(prev); late > s.cfg.MisfireGrace {
		missed = true
		s.log.Debug("job missed slots; applying its misfire policy", "job", j.ID, "misfire", misfire,
			"misfire_window", j.MisfireWindow, "missed_since", prev, "late", late.Round(time.Second), "firing", len(fire))
	}
	return f, missed, true
}

// fire hands the planned firings to the store, a bounded number of runs per
// call, and accounts for the results.
func (s *Scheduler) fire(ctx context.Context, fires []store.JobFireParams, st *passStats) error {
	for len(fires) > 0 {
		n, runs := 0, 0
		for n < len(fires) && (n == 0 || runs+len(fires[n].Runs) <= maxRunsPerFire) {
			runs += len(fires[n].Runs)
			n++
		}
		batch := fires[:n]
		fires = fires[n:]
		results, err := s.cfg.Store.JobsFire(ctx, batch)
		if err != nil {
			return fmt.Errorf("fire %d jobs: %w", len(batch), err)
		}
		if len(results) != len(batch) {
			return fmt.Errorf("fire %d jobs: the store returned %d results", len(batch), len(results))
		}
		for i, r := range results {
			f := batch[i]
			if !r.Applied {
				// Normal with several replicas: another one fired the job
				// first, or the job was edited since it was listed.
				st.lost++
				s.log.Debug("job firing not applied: changed since it was read", "job", f.JobID, "prev_next_run_at", f.PrevNextRunAt)
				continue
			}
			st.applied++
			st.inserted += r.Inserted + r.Skipped
			st.skipped += r.Skipped
			// With duplicates the results do not say which slots were new;
			// they arise only when a slot is fired twice (a job edited back
			// to an earlier slot), so leaving them out of the histogram
			// loses nothing useful.
			if r.Duplicates == 0 {
				for _, run := range f.Runs {
					s.metrics.fireDelay.Observe(f.Now.Sub(run.ScheduledFor).Seconds())
				}
			}
		}
	}
	return nil
}
