package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is a Monday noon, a whole second, where most tests start.
var t0 = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)

// env is one test's world: a fresh SQLite file, a fake clock and a
// scheduler over them (not started).
type env struct {
	t     *testing.T
	ctx   context.Context
	path  string
	store *sqlitestore.Store
	clock *clock.Fake
	sched *Scheduler
	logs  *logBuffer
	reg   *prometheus.Registry
}

// setup builds an env starting at start; configure may adjust the
// scheduler's Config.
func setup(t *testing.T, start time.Time, configure ...func(*Config)) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	e := &env{
		t:     t,
		ctx:   ctx,
		path:  filepath.Join(t.TempDir(), "connecthub.db"),
		clock: clock.NewFake(start),
		logs:  &logBuffer{},
		reg:   prometheus.NewRegistry(),
	}
	e.store = e.open()
	e.sched = e.newScheduler(e.store, configure...)
	return e
}

// open opens (another) store on the env's database file.
func (e *env) open() *sqlitestore.Store {
	e.t.Helper()
	st, err := sqlitestore.Open(e.ctx, e.path, sqlitestore.Options{})
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	e.t.Cleanup(func() { st.Close() })
	return st
}

// newScheduler builds a scheduler on st with the env's clock, stopped at
// the end of the test.
func (e *env) newScheduler(st Store, configure ...func(*Config)) *Scheduler {
	e.t.Helper()
	cfg := Config{
		Store:   st,
		Clock:   e.clock,
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: e.reg,
	}
	for _, c := range configure {
		c(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			e.t.Errorf("Stop: %v", err)
		}
	})
	return s
}

func (e *env) start(s *Scheduler) {
	e.t.Helper()
	if err := s.Start(e.ctx); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
}

// idle waits until n scheduler loops sharing the clock wait on their timers.
// Every test step that moves the clock starts from there, so the loops see
// each instant the test stops at.
func (e *env) idle(n int) {
	e.t.Helper()
	if err := e.clock.BlockUntilTimersContext(e.ctx, n); err != nil {
		e.t.Fatalf("waiting for %d idle scheduler(s): %v (pending timers at %v)", n, err, e.clock.Deadlines())
	}
}

// plan returns the instant the single idle loop waits for.
func (e *env) plan() time.Time {
	e.t.Helper()
	d := e.clock.Deadlines()
	if len(d) != 1 {
		e.t.Fatalf("pending timers = %v, want one", d)
	}
	return d[0]
}

// job returns a valid enabled job with the given cron, in UTC, whose
// next_run_at is computed from the clock as the API does.
func (e *env) job(id, expr string, edit ...func(*connecthub.Job)) *connecthub.Job {
	e.t.Helper()
	now := e.clock.Now()
	j := &connecthub.Job{
		ID: id, Enabled: true, CronExpr: expr, Timezone: "UTC", Handler: "noop",
		PublicCfg: []byte("{}"), MaxAttempts: 1, Concurrency: connecthub.ConcurrencyAllow,
		Misfire: connecthub.MisfireOnce, MisfireWindow: connecthub.DefaultMisfireWindow,
		Queue: connecthub.DefaultQueue, CreatedAt: now, UpdatedAt: now,
	}
	for _, f := range edit {
		f(j)
	}
	if err := j.Validate(); err != nil {
		e.t.Fatalf("test job %s is invalid: %v", id, err)
	}
	if j.NextRunAt == nil {
		next, err := j.NextFire(now)
		if err != nil {
			e.t.Fatalf("NextFire: %v", err)
		}
		j.NextRunAt = next
	}
	return j
}

func (e *env) create(jobs ...*connecthub.Job) {
	e.t.Helper()
	for _, j := range jobs {
		if err := e.store.JobCreate(e.ctx, j); err != nil {
			e.t.Fatalf("JobCreate(%s): %v", j.ID, err)
		}
	}
}

func (e *env) get(id string) *connecthub.Job {
	e.t.Helper()
	j, err := e.store.JobGet(e.ctx, id)
	if err != nil {
		e.t.Fatalf("JobGet(%s): %v", id, err)
	}
	return j
}

// runs returns all runs of a job, by slot.
func (e *env) runs(jobID string) []*connecthub.Run {
	e.t.Helper()
	var all []*connecthub.Run
	cursor := ""
	for {
		page, next, err := e.store.RunList(e.ctx, store.RunListParams{JobID: jobID, Limit: 500, Cursor: cursor})
		if err != nil {
			e.t.Fatalf("RunList(%s): %v", jobID, err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	slices.SortStableFunc(all, func(a, b *connecthub.Run) int { return a.ScheduledFor.Compare(b.ScheduledFor) })
	return all
}

// slotsOf returns the scheduled_for of runs, in order.
func slotsOf(runs []*connecthub.Run) []time.Time {
	out := make([]time.Time, len(runs))
	for i, r := range runs {
		out[i] = r.ScheduledFor
	}
	return out
}

// seconds returns n slots one second apart from first.
func seconds(first time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = first.Add(time.Duration(i) * time.Second)
	}
	return out
}

func equalTimes(a, b []time.Time) bool { return slices.EqualFunc(a, b, time.Time.Equal) }

// logBuffer collects log output for assertions; slog handlers may write
// from the loop's goroutine while the test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestFiresEverySlotOnTime drives an every-second job through many slots:
// each slot fires once, none is missed, and each run is inserted at the
// instant of its slot (the loop slept exactly until it).
func TestFiresEverySlotOnTime(t *testing.T) {
	t.Parallel()
	e := setup(t, t0, func(c *Config) { c.MaxIdle = time.Hour })
	e.create(e.job("tick", "* * * * * *"))
	e.start(e.sched)

	const n = 60
	for i := 1; i <= n; i++ {
		e.idle(1)
		if got, want := e.plan(), t0.Add(time.Duration(i)*time.Second); !got.Equal(want) {
			t.Fatalf("step %d: the loop waits until %v, want the next slot %v", i, got, want)
		}
		e.clock.Advance(time.Second)
	}
	e.idle(1)

	runs := e.runs("tick")
	if got, want := slotsOf(runs), seconds(t0.Add(time.Second), n); !equalTimes(got, want) {
		t.Fatalf("slots fired:\n%v\nwant\n%v", got, want)
	}
	for _, r := range runs {
		if r.Status != connecthub.StatusQueued || r.Trigger != connecthub.TriggerCron || !r.CreatedAt.Equal(r.ScheduledFor) {
			t.Fatalf("run %s: status %s trigger %s created %v for slot %v; want QUEUED cron created at the slot",
				r.ID, r.Status, r.Trigger, r.CreatedAt, r.ScheduledFor)
		}
		if r.Snapshot.Meta.RequestedBy != requestedBy || !r.Snapshot.Meta.ScheduledFor.Equal(r.ScheduledFor) {
			t.Fatalf("run %s: snapshot meta %+v", r.ID, r.Snapshot.Meta)
		}
	}
	j := e.get("tick")
	if want := t0.Add(n * time.Second); j.LastRunAt == nil || !j.LastRunAt.Equal(want) {
		t.Errorf("last_run_at = %v, want %v", j.LastRunAt, want)
	}
	if want := t0.Add((n + 1) * time.Second); j.NextRunAt == nil || !j.NextRunAt.Equal(want) {
		t.Errorf("next_run_at = %v, want %v", j.NextRunAt, want)
	}
}

// TestLoopSleepsUntilSlot checks that the loop waits on a timer for the
// next slot (re-planning at most every MaxIdle), fires nothing before it,
// and fires right at it.
func TestLoopSleepsUntilSlot(t *testing.T) {
	t.Parallel()
	start := t0.Add(250 * time.Millisecond)
	e := setup(t, start) // default MaxIdle, 5s
	e.create(e.job("minutely", "0 * * * * *"))
	slot := t0.Add(time.Minute)
	e.start(e.sched)

	wokeAt := start // when the loop last planned
	for now := start; now.Before(slot); now = e.clock.Now() {
		e.idle(1)
		want := wokeAt.Add(DefaultMaxIdle)
		if slot.Before(want) {
			want = slot
		}
		if got := e.plan(); !got.Equal(want) {
			t.Fatalf("at %v the loop waits until %v, want %v", now, got, want)
		}
		if n := len(e.runs("minutely")); n != 0 {
			t.Fatalf("at %v: %d runs before the slot %v", now, n, slot)
		}
		step := min(time.Second, slot.Sub(now)-time.Millisecond)
		if step <= 0 {
			step = slot.Sub(now)
		}
		e.clock.Advance(step)
		if !e.clock.Now().Before(want) {
			wokeAt = e.clock.Now()
		}
	}
	e.idle(1)

	runs := e.runs("minutely")
	if len(runs) != 1 || !runs[0].ScheduledFor.Equal(slot) || !runs[0].CreatedAt.Equal(slot) {
		t.Fatalf("runs = %v, want one for %v created at the slot", slotsOf(runs), slot)
	}
	if got, want := e.plan(), slot.Add(DefaultMaxIdle); !got.Equal(want) {
		t.Fatalf("after firing the loop waits until %v, want %v", got, want)
	}

	// The fire delay of that run was zero.
	h := histogram(t, e.reg, "connecthub_scheduler_fire_delay_seconds")
	if h.GetSampleCount() != 1 || h.GetSampleSum() != 0 {
		t.Errorf("fire delay histogram: count %d sum %v, want 1 sample of 0", h.GetSampleCount(), h.GetSampleSum())
	}
}

// TestNewJobWakesLoop checks that creating a job re-plans the sleeping loop
// at once, long before MaxIdle: a job already due fires without the clock
// moving, and for a job due later the loop now sleeps until its slot.
func TestNewJobWakesLoop(t *testing.T) {
	t.Parallel()
	e := setup(t, t0, func(c *Config) { c.MaxIdle = 2 * time.Hour })
	e.start(e.sched)
	e.idle(1)
	if got, want := e.plan(), t0.Add(2*time.Hour); !got.Equal(want) {
		t.Fatalf("with no jobs the loop waits until %v, want MaxIdle %v", got, want)
	}

	due := t0
	e.create(e.job("due", "0 0 * * * *", func(j *connecthub.Job) { j.NextRunAt = &due }))
	// Firing "due" makes its next slot, 13:00, the plan.
	waitPlan(t, e, t0.Add(time.Hour))
	if runs := e.runs("due"); len(runs) != 1 || !runs[0].ScheduledFor.Equal(t0) {
		t.Fatalf("due job runs = %v, want one for %v", slotsOf(runs), t0)
	}

	e.create(e.job("later", "0 */5 * * * *"))
	waitPlan(t, e, t0.Add(5*time.Minute))
	if !e.clock.Now().Equal(t0) {
		t.Fatal("the clock moved")
	}
}

// waitPlan waits until the loop sleeps until exactly `until`.
func waitPlan(t *testing.T, e *env, until time.Time) {
	t.Helper()
	err := e.clock.WaitFor(e.ctx, func(d []time.Time) bool { return len(d) == 1 && d[0].Equal(until) })
	if err != nil {
		t.Fatalf("waiting for the loop to plan %v: %v (pending %v)", until, err, e.clock.Deadlines())
	}
}

// TestTwoSchedulersFireEachSlotOnce runs two schedulers, each with its own
// connection pool on the same database file, as two replicas would, and
// checks that every slot of every job fires exactly once.
func TestTwoSchedulersFireEachSlotOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, t0, func(c *Config) { c.MaxIdle = time.Hour })
	other := e.newScheduler(e.open(), func(c *Config) { c.MaxIdle = time.Hour })
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for i, id := range ids {
		concurrency := []string{connecthub.ConcurrencyAllow, connecthub.ConcurrencyForbid}[i%2]
		e.create(e.job(id, "* * * * * *", func(j *connecthub.Job) { j.Concurrency = concurrency }))
	}
	e.start(e.sched)
	e.start(other)

	const n = 40
	for range n {
		e.idle(2)
		e.clock.Advance(time.Second)
	}
	e.idle(2)

	want := seconds(t0.Add(time.Second), n)
	for _, id := range ids {
		if got := slotsOf(e.runs(id)); !equalTimes(got, want) {
			t.Errorf("job %s fired slots\n%v\nwant each of\n%v\nexactly once", id, got, want)
		}
	}
}

// TestMisfireAfterDowntime stops the scheduler, moves the clock past many
// slots of an hourly job, starts it again, and checks each misfire policy.
func TestMisfireAfterDowntime(t *testing.T) {
	t.Parallel()
	hours := func(hs ...int) []time.Time {
		out := make([]time.Time, len(hs))
		for i, h := range hs {
			out[i] = time.Date(2025, 6, 2, h, 0, 0, 0, time.UTC)
		}
		return out
	}
	tests := []struct {
		name     string
		misfire  string
		window   time.Duration
		maxSlots int
		downtime time.Duration // from 12:00, when the scheduler stops; the job's pending slot is 13:00
		fired    []time.Time
		next     time.Time
	}{
		{name: "skip", misfire: connecthub.MisfireSkip, window: time.Hour, downtime: 5*time.Hour + 30*time.Minute, next: hours(18)[0]},
		{name: "skip within grace", misfire: connecthub.MisfireSkip, downtime: 5*time.Hour + 20*time.Second, fired: hours(17), next: hours(18)[0]},
		{name: "once", misfire: connecthub.MisfireOnce, window: time.Hour, downtime: 5*time.Hour + 30*time.Minute, fired: hours(17), next: hours(18)[0]},
		{name: "once window exceeded", misfire: connecthub.MisfireOnce, window: 10 * time.Minute, downtime: 5*time.Hour + 30*time.Minute, next: hours(18)[0]},
		{name: "once window edge", misfire: connecthub.MisfireOnce, window: 30 * time.Minute, downtime: 5*time.Hour + 30*time.Minute, fired: hours(17), next: hours(18)[0]},
		{name: "once unbounded", misfire: connecthub.MisfireOnce, downtime: 30*24*time.Hour + 30*time.Minute, fired: []time.Time{t0.Add(30 * 24 * time.Hour)}, next: t0.Add(30*24*time.Hour + time.Hour)},
		{name: "all unbounded", misfire: connecthub.MisfireAll, downtime: 5*time.Hour + 30*time.Minute, fired: hours(13, 14, 15, 16, 17), next: hours(18)[0]},
		{name: "all window", misfire: connecthub.MisfireAll, window: 2 * time.Hour, downtime: 5*time.Hour + 30*time.Minute, fired: hours(16, 17), next: hours(18)[0]},
		{name: "all capped per pass", misfire: connecthub.MisfireAll, maxSlots: 2, downtime: 5*time.Hour + 30*time.Minute, fired: hours(13, 14, 15, 16, 17), next: hours(18)[0]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, t0, func(c *Config) { c.MaxIdle = time.Hour; c.MaxSlotsPerPass = tt.maxSlots })
			e.create(e.job("hourly", "0 0 * * * *", func(j *connecthub.Job) {
				j.Misfire = tt.misfire
				j.MisfireWindow = connecthub.Duration(tt.window)
			}))
			e.start(e.sched)
			e.idle(1)
			if err := e.sched.Stop(e.ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if n := e.clock.Timers(); n != 0 {
				t.Fatalf("%d timers pending after Stop", n)
			}
			e.clock.Advance(tt.downtime)
			e.start(e.sched)
			e.idle(1)

			if got := slotsOf(e.runs("hourly")); !equalTimes(got, tt.fired) {
				t.Errorf("fired %v, want %v", got, tt.fired)
			}
			j := e.get("hourly")
			if j.NextRunAt == nil || !j.NextRunAt.Equal(tt.next) {
				t.Errorf("next_run_at = %v, want %v", j.NextRunAt, tt.next)
			}
			switch {
			case len(tt.fired) == 0 && j.LastRunAt != nil:
				t.Errorf("last_run_at = %v, want none", j.LastRunAt)
			case len(tt.fired) > 0 && (j.LastRunAt == nil || !j.LastRunAt.Equal(tt.fired[len(tt.fired)-1])):
				t.Errorf("last_run_at = %v, want %v", j.LastRunAt, tt.fired[len(tt.fired)-1])
			}
			if logs := e.logs.String(); !strings.Contains(logs, "level=INFO msg=\"jobs missed slots") {
				t.Errorf("the misfire was not logged at info level; logs:\n%s", logs)
			}
		})
	}
}

// TestConcurrencyPolicies fires two slots of a job whose first run is still
// QUEUED, with each policy, through Tick.
func TestConcurrencyPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		concurrency string
		want        []connecthub.RunStatus // of the first and the second slot's run
	}{
		{connecthub.ConcurrencyForbid, []connecthub.RunStatus{connecthub.StatusQueued, connecthub.StatusSkipped}},
		{connecthub.ConcurrencyReplace, []connecthub.RunStatus{connecthub.StatusCanceled, connecthub.StatusQueued}},
		{connecthub.ConcurrencyAllow, []connecthub.RunStatus{connecthub.StatusQueued, connecthub.StatusQueued}},
	}
	for _, tt := range tests {
		t.Run(tt.concurrency, func(t *testing.T) {
			t.Parallel()
			e := setup(t, t0)
			e.create(e.job("j", "0 * * * * *", func(j *connecthub.Job) { j.Concurrency = tt.concurrency }))
			for i := 1; i <= 2; i++ {
				e.clock.Set(t0.Add(time.Duration(i) * time.Minute))
				n, err := e.sched.Tick(e.ctx)
				if err != nil || n != 1 {
					t.Fatalf("Tick %d = %d, %v; want 1 run", i, n, err)
				}
			}
			runs := e.runs("j")
			got := make([]connecthub.RunStatus, len(runs))
			for i, r := range runs {
				got[i] = r.Status
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("statuses = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTimezonePerJob fires "0 9 * * *" in two zones and checks the instants,
// in summer and in winter (New York's offset changes, Shanghai's does not).
func TestTimezonePerJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		day               time.Time // midnight UTC
		shanghai, newYork time.Time
	}{
		{"summer", time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 2, 1, 0, 0, 0, time.UTC), time.Date(2025, 6, 2, 13, 0, 0, 0, time.UTC)},
		{"winter", time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 6, 1, 0, 0, 0, time.UTC), time.Date(2025, 1, 6, 14, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tt.day, func(c *Config) { c.MaxIdle = 24 * time.Hour })
			e.create(
				e.job("sh", "0 9 * * *", func(j *connecthub.Job) { j.Timezone = "Asia/Shanghai" }),
				e.job("ny", "0 9 * * *", func(j *connecthub.Job) { j.Timezone = "America/New_York" }),
			)
			e.start(e.sched)

			e.idle(1)
			if got := e.plan(); !got.Equal(tt.shanghai) {
				t.Fatalf("first wake-up at %v, want 09:00 Shanghai = %v", got, tt.shanghai)
			}
			e.clock.Set(tt.shanghai)
			e.idle(1)
			if got := e.plan(); !got.Equal(tt.newYork) {
				t.Fatalf("second wake-up at %v, want 09:00 New York = %v", got, tt.newYork)
			}
			if got := slotsOf(e.runs("sh")); !equalTimes(got, []time.Time{tt.shanghai}) {
				t.Fatalf("Shanghai fired %v", got)
			}
			if got := slotsOf(e.runs("ny")); len(got) != 0 {
				t.Fatalf("New York fired %v before its time", got)
			}
			e.clock.Set(tt.newYork)
			e.idle(1)
			if got := slotsOf(e.runs("ny")); !equalTimes(got, []time.Time{tt.newYork}) {
				t.Fatalf("New York fired %v", got)
			}
			if j := e.get("sh"); j.NextRunAt == nil || !j.NextRunAt.Equal(tt.shanghai.Add(24*time.Hour)) {
				t.Fatalf("Shanghai next_run_at = %v", j.NextRunAt)
			}
		})
	}
}

// TestDisabledJobsNeverFire keeps a disabled job with a due next_run_at
// beside an enabled one: the loop neither fires nor wakes up for it.
func TestDisabledJobsNeverFire(t *testing.T) {
	t.Parallel()
	e := setup(t, t0, func(c *Config) { c.MaxIdle = time.Hour })
	past := t0.Add(-time.Minute)
	e.create(
		e.job("off", "* * * * * *", func(j *connecthub.Job) { j.Enabled = false; j.NextRunAt = &past }),
		e.job("on", "0 * * * * *"),
	)
	e.start(e.sched)
	for range 3 {
		e.idle(1)
		// The loop sleeps for the enabled job's minute, not the disabled
		// job's second.
		if got, want := e.plan(), e.clock.Now().Truncate(time.Minute).Add(time.Minute); !got.Equal(want) {
			t.Fatalf("the loop waits until %v, want %v", got, want)
		}
		e.clock.Advance(time.Minute)
	}
	e.idle(1)
	if n := len(e.runs("on")); n != 3 {
		t.Fatalf("enabled job fired %d times, want 3", n)
	}
	if n := len(e.runs("off")); n != 0 {
		t.Fatalf("disabled job fired %d times", n)
	}
	if n, err := e.sched.Tick(e.ctx); err != nil || n != 0 {
		t.Fatalf("Tick = %d, %v; want nothing to fire", n, err)
	}
}

// TestTickBatches checks that one Tick fires every due job across several
// store rounds, and that a misfire=all catch-up is bounded per pass.
func TestTickBatches(t *testing.T) {
	t.Parallel()
	e := setup(t, t0, func(c *Config) { c.BatchSize = 7; c.MaxSlotsPerPass = 3 })
	const jobs = 50
	for i := range jobs {
		e.create(e.job(fmt.Sprintf("job-%02d", i), "0 * * * * *"))
	}
	from := t0.Add(-10 * time.Minute)
	e.create(e.job("backlog", "0 * * * * *", func(j *connecthub.Job) {
		j.Misfire = connecthub.MisfireAll
		j.NextRunAt = &from
	}))

	e.clock.Set(t0.Add(time.Minute))
	n, err := e.sched.Tick(e.ctx)
	if err != nil {
		t.Fatalf("Tick: %v", err)
	}
	if want := jobs + 3; n != want {
		t.Fatalf("Tick inserted %d runs, want %d (one per job, 3 of the backlog)", n, want)
	}
	for i := range jobs {
		if got := len(e.runs(fmt.Sprintf("job-%02d", i))); got != 1 {
			t.Fatalf("job-%02d has %d runs, want 1", i, got)
		}
	}
	if j := e.get("backlog"); j.NextRunAt == nil || !j.NextRunAt.Equal(from.Add(3*time.Minute)) {
		t.Fatalf("backlog next_run_at = %v, want the first unfired slot %v", j.NextRunAt, from.Add(3*time.Minute))
	}
	// The rest of the backlog (from -7m to +1m: 9 slots) follows, 3 a pass.
	for i := range 3 {
		if n, err := e.sched.Tick(e.ctx); err != nil || n != 3 {
			t.Fatalf("catch-up Tick %d = %d, %v; want 3", i+1, n, err)
		}
	}
	if n, err := e.sched.Tick(e.ctx); err != nil || n != 0 {
		t.Fatalf("final Tick = %d, %v; want 0", n, err)
	}
	if got, want := slotsOf(e.runs("backlog")), minutes(from, 12); !equalTimes(got, want) {
		t.Fatalf("backlog fired %v, want %v", got, want)
	}
}

func minutes(first time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = first.Add(time.Duration(i) * time.Minute)
	}
	return out
}

// TestInvalidCronIsParked checks that a job whose expression does not parse
// (which the API prevents) gets no next_run_at instead of being retried on
// every pass.
func TestInvalidCronIsParked(t *testing.T) {
	t.Parallel()
	e := setup(t, t0)
	j := e.job("broken", "* * * * *")
	j.CronExpr = "61 * * * *"
	e.create(j)
	e.clock.Advance(time.Minute)
	if n, err := e.sched.Tick(e.ctx); err != nil || n != 0 {
		t.Fatalf("Tick = %d, %v; want 0 runs and no error", n, err)
	}
	if j := e.get("broken"); j.NextRunAt != nil {
		t.Fatalf("next_run_at = %v, want none", j.NextRunAt)
	}
	if !strings.Contains(e.logs.String(), "no valid cron expression") {
		t.Fatalf("not logged; logs:\n%s", e.logs.String())
	}
}

// flakyStore fails its first `failures` JobListDue calls, like a database
// that is down for a while.
type flakyStore struct {
	*sqlitestore.Store
	failures atomic.Int32
}

var errDown = errors.New("database is down")

func (f *flakyStore) JobListDue(ctx context.Context, before time.Time, limit int) ([]*connecthub.Job, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, errDown
	}
	return f.Store.JobListDue(ctx, before, limit)
}

// TestLoopRetriesErrors checks that a failing database makes the loop log,
// back off with growing waits, and fire once it answers again.
func TestLoopRetriesErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, t0)
	e.create(e.job("j", "* * * * * *"))
	flaky := &flakyStore{Store: e.store}
	flaky.failures.Store(4)
	s := e.newScheduler(flaky, func(c *Config) { c.MaxIdle = time.Hour })
	e.start(s)

	for i := range 4 {
		e.idle(1)
		wait := e.plan().Sub(e.clock.Now())
		base := minBackoff << i
		if wait < base/2 || wait > base {
			t.Fatalf("retry %d waits %v, want within [%v, %v]", i+1, wait, base/2, base)
		}
		e.clock.Advance(wait)
	}
	e.idle(1)
	// The jittered waits may add up to less than the job's first slot (t0 +
	// 1s); then the successful pass planned a wait until that slot.
	if at := e.plan(); e.clock.Now().Before(t0.Add(time.Second)) {
		e.clock.Advance(at.Sub(e.clock.Now()))
		e.idle(1)
	}
	if runs := e.runs("j"); len(runs) == 0 {
		t.Fatalf("nothing fired after the database came back; now %v logs:\n%s", e.clock.Now(), e.logs.String())
	}
	if got := strings.Count(e.logs.String(), "scheduler pass failed"); got != 4 {
		t.Fatalf("%d failures logged, want 4; logs:\n%s", got, e.logs.String())
	}
	if got := counter(t, e.reg, "connecthub_scheduler_pass_errors_total"); got != 4 {
		t.Fatalf("pass errors metric = %v, want 4", got)
	}
}

func TestBackoffIsCapped(t *testing.T) {
	t.Parallel()
	for _, maxIdle := range []time.Duration{time.Hour, 2 * time.Second, time.Millisecond} {
		s, err := New(Config{Store: &flakyStore{}, MaxIdle: maxIdle})
		if err != nil {
			t.Fatal(err)
		}
		limit := min(maxBackoff, maxIdle)
		for failures := 1; failures < 100; failures++ {
			if d := s.backoff(failures); d <= 0 || d > limit {
				t.Fatalf("MaxIdle %v: backoff(%d) = %v, want in (0, %v]", maxIdle, failures, d, limit)
			}
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	e := setup(t, t0)
	if err := e.sched.Stop(e.ctx); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	e.start(e.sched)
	if err := e.sched.Start(e.ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
	for i := range 2 {
		if err := e.sched.Stop(e.ctx); err != nil {
			t.Fatalf("Stop %d: %v", i+1, err)
		}
	}
	// A loop whose context ends can be started again.
	ctx, cancel := context.WithCancel(e.ctx)
	if err := e.sched.Start(ctx); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	e.idle(1)
	stopped := e.sched.Stopped()
	cancel()
	testenv.Wait(t, stopped, "the loop to stop with its context")
	if n := e.clock.Timers(); n != 0 {
		t.Fatalf("%d timers pending after the loop stopped", n)
	}
	e.start(e.sched)
	e.idle(1)

	canceled, cancel2 := context.WithCancel(e.ctx)
	cancel2()
	unused, err := New(Config{Store: &flakyStore{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := unused.Start(canceled); err == nil {
		t.Fatal("Start with a canceled context succeeded")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	st := &flakyStore{}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{}, "Store is required"},
		{"negative grace", Config{Store: st, MisfireGrace: -time.Second}, "MisfireGrace"},
		{"negative slots", Config{Store: st, MaxSlotsPerPass: -1}, "MaxSlotsPerPass"},
		{"negative batch", Config{Store: st, BatchSize: -1}, "BatchSize"},
		{"negative idle", Config{Store: st, MaxIdle: -time.Second}, "MaxIdle"},
		{"ok", Config{Store: st}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil || s == nil {
					t.Fatalf("New = %v, %v", s, err)
				}
				if s.cfg.MisfireGrace != DefaultMisfireGrace || s.cfg.MaxIdle != DefaultMaxIdle ||
					s.cfg.BatchSize != DefaultBatchSize || s.cfg.MaxSlotsPerPass != DefaultMaxSlotsPerPass {
					t.Fatalf("defaults not applied: %+v", s.cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// metric returns the single series of the named metric family.
func metric(t *testing.T, reg *prometheus.Registry, name string) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() == name {
			if len(f.GetMetric()) != 1 {
				t.Fatalf("%s has %d series, want 1", name, len(f.GetMetric()))
			}
			return f.GetMetric()[0]
		}
	}
	t.Fatalf("metric %s not registered", name)
	return nil
}

func histogram(t *testing.T, reg *prometheus.Registry, name string) *dto.Histogram {
	t.Helper()
	return metric(t, reg, name).GetHistogram()
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return metric(t, reg, name).GetCounter().GetValue()
}

// TestMetricsSharedRegistry checks that two schedulers can register on one
// registry (they share the series).
func TestMetricsSharedRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := New(Config{Store: &flakyStore{}, Metrics: reg}); err != nil {
			t.Fatalf("New: %v", err)
		}
	}
}
