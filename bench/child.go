package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handlers/noop"
	"github.com/connecthub/connecthub/internal/store"
)

// childFlag is the hidden first argument that makes the binary run one
// measurement instead of the whole benchmark.
const childFlag = "-child"

// Parameters of the measurements that issue 3 does not fix.
const (
	// jobCreators is how many goroutines create the cron fan-out's jobs.
	// Only the setup's duration depends on it, not the measurement.
	jobCreators = 4
	// calibrationJobs are created (disabled) and deleted before the cron
	// fan-out's jobs, to time job creation and place the slot just far
	// enough in the future.
	calibrationJobs = 200
	// slotMargin is the least time left between the end of the setup and
	// the cron slot, so that the node is up and idle when the slot comes.
	slotMargin = time.Second
	// benchJobID is the job the runs of the insert, work and latency
	// measurements belong to.
	benchJobID = "bench-noop"
)

// childArgs are the flags the parent passes to a measurement process.
type childArgs struct {
	spec
	dsn        string // the SQLite file or the PostgreSQL URL of the fresh database
	adminURL   string // PostgreSQL: the server, to read the transaction counters
	db         string // PostgreSQL: the fresh database's name
	dir        string // a fresh directory for the key file (and the SQLite file)
	cpuProfile string // directory for the profiles, "" for none
	tag        string // distinguishes the repetitions in profile file names
	timeout    time.Duration
}

// flags returns the command line that makes a child run a.
func (a childArgs) flags() []string {
	return []string{childFlag,
		"-system", a.System, "-kind", a.Kind,
		"-n", fmt.Sprint(a.N), "-c", fmt.Sprint(a.C), "-rate", fmt.Sprint(a.Rate),
		"-dsn", a.dsn, "-admin-url", a.adminURL, "-db", a.db, "-dir", a.dir,
		"-cpuprofile", a.cpuProfile, "-tag", a.tag, "-timeout", a.timeout.String(),
	}
}

// parseChildArgs parses what flags produced.
func parseChildArgs(args []string) (childArgs, error) {
	var a childArgs
	fs := flag.NewFlagSet("bench -child", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.System, "system", "", "")
	fs.StringVar(&a.Kind, "kind", "", "")
	fs.IntVar(&a.N, "n", 0, "")
	fs.IntVar(&a.C, "c", 0, "")
	fs.IntVar(&a.Rate, "rate", 0, "")
	fs.StringVar(&a.dsn, "dsn", "", "")
	fs.StringVar(&a.adminURL, "admin-url", "", "")
	fs.StringVar(&a.db, "db", "", "")
	fs.StringVar(&a.dir, "dir", "", "")
	fs.StringVar(&a.cpuProfile, "cpuprofile", "", "")
	fs.StringVar(&a.tag, "tag", "", "")
	fs.DurationVar(&a.timeout, "timeout", 5*time.Minute, "")
	if err := fs.Parse(args); err != nil {
		return a, fmt.Errorf("child flags: %w", err)
	}
	switch {
	case a.System != systemSQLite && a.System != systemPostgres:
		return a, fmt.Errorf("child: unknown system %q", a.System)
	case !slices.Contains(allKinds, a.Kind):
		return a, fmt.Errorf("child: unknown measurement %q", a.Kind)
	case a.N < 1:
		return a, fmt.Errorf("child: -n must be positive, got %d", a.N)
	case a.Kind != kindInsert && a.C < 1:
		return a, fmt.Errorf("child: -c must be positive for %s, got %d", a.Kind, a.C)
	case a.Kind == kindLatency && a.Rate < 1:
		return a, fmt.Errorf("child: -rate must be positive, got %d", a.Rate)
	case a.dsn == "" || a.dir == "":
		return a, errors.New("child: -dsn and -dir are required")
	case a.System == systemPostgres && (a.adminURL == "" || a.db == ""):
		return a, errors.New("child: -admin-url and -db are required for PostgreSQL")
	case a.timeout <= 0:
		return a, fmt.Errorf("child: -timeout must be positive, got %s", a.timeout)
	}
	return a, nil
}

// childMain runs one measurement and writes its childReport as one JSON
// line on stdout. It returns the exit code.
func childMain(args []string, stdout, stderr io.Writer) int {
	a, err := parseChildArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := runMeasurement(ctx, a, log)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %s %s: %v\n", a.System, a.label(), err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

// measurement holds the state of one measurement.
type measurement struct {
	a    childArgs
	e    *env
	diag Diag
	rss  float64
	// xactBase is the database's transaction count before the measured
	// phase, -1 when not measured.
	xactBase int64
	// walBase is the server's WAL counters then (PostgreSQL only).
	walBase pgWAL

	cpuFile  *os.File
	cpuStart cpuTimes
}

// runMeasurement sets up, measures and verifies a.
func runMeasurement(ctx context.Context, a childArgs, log *slog.Logger) (childReport, error) {
	var starts *handlerStarts
	if a.Kind == kindLatency {
		starts = newHandlerStarts()
	}
	e, err := newEnv(ctx, a.driver(), a.dsn, a.dir, starts, log)
	if err != nil {
		return childReport{}, err
	}
	defer e.close()
	m := &measurement{a: a, e: e, diag: Diag{PGXacts: -1, LoadAvg: loadAvg()}, xactBase: -1}
	res := Result{System: a.System, Config: a.Kind, N: a.N}
	if a.C > 0 {
		res.C = ptr(a.C)
	}
	switch a.Kind {
	case kindInsert:
		err = m.insert(ctx, &res)
	case kindWork:
		err = m.work(ctx, &res)
	case kindLatency:
		err = m.latency(ctx, &res, starts)
	case kindCron:
		err = m.cron(ctx, &res)
	}
	if err != nil {
		return childReport{}, err
	}
	res.PeakRSSMB = round(m.rss, 1)
	return childReport{Result: res, Diag: m.diag}, nil
}

// insert measures RunInsert throughput: N runs in batches of insertBatch,
// one batch after the other, with no worker running.
func (m *measurement) insert(ctx context.Context, res *Result) error {
	job, err := m.createJob(ctx, benchJobID, "", true)
	if err != nil {
		return err
	}
	if err := m.beginMeasured(ctx); err != nil {
		return err
	}
	start := time.Now()
	if err := m.insertRuns(ctx, job, m.a.N); err != nil {
		return err
	}
	elapsed := time.Since(start)
	if err := m.endMeasured(ctx, nil); err != nil {
		return err
	}
	res.InsertJPS = ptr(round(float64(m.a.N)/elapsed.Seconds(), 0))
	m.diag.Runs = int64(m.a.N)
	st, err := m.e.st.Stats(ctx, time.Now())
	if err != nil {
		return err
	}
	if got := st.Runs[connecthub.StatusQueued]; got != int64(m.a.N) {
		return fmt.Errorf("verify: %d runs QUEUED after the insert, want %d", got, m.a.N)
	}
	return nil
}

// work measures end-to-end throughput: N QUEUED runs, then a node with C
// workers starts, and the clock stops when the last outcome is committed.
func (m *measurement) work(ctx context.Context, res *Result) error {
	job, err := m.createJob(ctx, benchJobID, "", true)
	if err != nil {
		return err
	}
	if err := m.insertRuns(ctx, job, m.a.N); err != nil {
		return err
	}
	if err := m.beginMeasured(ctx); err != nil {
		return err
	}
	// The node is built before the clock starts: its admin UI and API,
	// which the run path does not use, are no part of the throughput.
	n, err := newNode(ctx, m.e, m.a.C, m.a.N, 0)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := n.start(ctx); err != nil {
		return err
	}
	err = waitDone(ctx, n, m.a.N)
	elapsed := time.Since(start)
	if err := m.endMeasured(ctx, n); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	res.WorkJPS = ptr(round(float64(m.a.N)/elapsed.Seconds(), 0))
	return verifyRuns(ctx, m.e.st, m.a.N, n.name, nil)
}

// latency measures enqueue-to-start latency: runs inserted one at a time
// at Rate per second into an idle node with the default number of workers.
// The latency of a run is from the moment its RunInsert call began (the
// client's enqueue) to the moment the noop handler was entered (where the
// user's code would begin), so it includes the insert's commit, the wake-up
// of the claim loop, the claim and the dispatch to a goroutine.
func (m *measurement) latency(ctx context.Context, res *Result, starts *handlerStarts) error {
	job, err := m.createJob(ctx, benchJobID, "", true)
	if err != nil {
		return err
	}
	if err := m.beginMeasured(ctx); err != nil {
		return err
	}
	n, err := startNode(ctx, m.e, m.a.C, m.a.N, 0)
	if err != nil {
		return err
	}
	if err := waitIdle(ctx, n); err != nil {
		n.stop()
		return err
	}
	enqueued := make(map[string]time.Time, m.a.N)
	tick := time.NewTicker(time.Second / time.Duration(m.a.Rate))
	var insertErr error
	for range m.a.N {
		select {
		case <-ctx.Done():
			insertErr = ctx.Err()
		case <-tick.C:
		}
		if insertErr != nil {
			break
		}
		now := time.Now()
		r := connecthub.NewRun(job, connecthub.TriggerAPI, now, now, "bench")
		if insertErr = m.e.st.RunInsert(ctx, []*connecthub.Run{r}); insertErr != nil {
			break
		}
		enqueued[r.ID] = now
	}
	tick.Stop()
	if insertErr == nil {
		insertErr = waitDone(ctx, n, m.a.N)
	}
	if err := m.endMeasured(ctx, n); err != nil {
		return err
	}
	if insertErr != nil {
		return insertErr
	}

	var toHandler, toClaim []float64
	err = verifyRuns(ctx, m.e.st, m.a.N, n.name, func(r *connecthub.Run) error {
		enq, ok := enqueued[r.ID]
		if !ok {
			return fmt.Errorf("run %s was not inserted by the benchmark", r.ID)
		}
		began, ok := starts.get(r.ID)
		if !ok {
			return fmt.Errorf("run %s: its handler was never entered", r.ID)
		}
		toHandler = append(toHandler, ms(began.Sub(enq)))
		toClaim = append(toClaim, ms(r.StartedAt.Sub(enq)))
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(toHandler)
	slices.Sort(toClaim)
	res.LatP50MS = ptr(round(percentile(toHandler, 50), 3))
	res.LatP95MS = ptr(round(percentile(toHandler, 95), 3))
	res.LatP99MS = ptr(round(percentile(toHandler, 99), 3))
	m.note("claim_p50_ms", round(percentile(toClaim, 50), 3))
	m.note("claim_p99_ms", round(percentile(toClaim, 99), 3))
	m.note("max_ms", round(toHandler[len(toHandler)-1], 3))
	return nil
}

// cron measures the fan-out of N jobs whose cron fires in the same second:
// how long after the slot the last run was committed, and the last one
// started.
func (m *measurement) cron(ctx context.Context, res *Result) error {
	// Time job creation on throwaway jobs, to place the slot no further
	// in the future than the setup needs.
	began := time.Now()
	if err := m.createJobs(ctx, "bench-calibrate-", calibrationJobs, "0 0 0 1 1 *", false); err != nil {
		return err
	}
	perJob := time.Since(began) / calibrationJobs
	for i := range calibrationJobs {
		if err := m.e.svc.JobDelete(ctx, fmt.Sprintf("bench-calibrate-%05d", i)); err != nil {
			return err
		}
	}
	lead := perJob*time.Duration(m.a.N)*3/2 + slotMargin + 2*time.Second
	slot := time.Now().Add(lead).Truncate(time.Second).Add(time.Second).UTC()
	expr := cronAt(slot)
	if err := m.createJobs(ctx, "bench-cron-", m.a.N, expr, true); err != nil {
		return err
	}
	if err := m.beginMeasured(ctx); err != nil {
		return err
	}
	if left := time.Until(slot); left < slotMargin {
		return fmt.Errorf("setup took longer than calibrated: only %s left before the slot %s (want %s); rerun on a quieter machine",
			left.Round(time.Millisecond), slot.Format(time.TimeOnly), slotMargin)
	}
	n, err := startNode(ctx, m.e, m.a.C, m.a.N, m.a.N)
	if err != nil {
		return err
	}
	err = waitDone(ctx, n, m.a.N)
	if err := m.endMeasured(ctx, n); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	calls, inserted, firstFire, lastFire := n.fires.snapshot()
	m.diag.Fires = calls
	if inserted != m.a.N || lastFire.IsZero() {
		return fmt.Errorf("verify: the scheduler inserted %d runs, want %d", inserted, m.a.N)
	}
	var maxCreated, maxStarted time.Time
	err = verifyRuns(ctx, m.e.st, m.a.N, n.name, func(r *connecthub.Run) error {
		if r.Trigger != connecthub.TriggerCron || !r.ScheduledFor.Equal(slot) {
			return fmt.Errorf("run %s: trigger %s scheduled for %s, want cron at %s", r.ID, r.Trigger, r.ScheduledFor, slot)
		}
		maxCreated = later(maxCreated, r.CreatedAt)
		maxStarted = later(maxStarted, *r.StartedAt)
		return nil
	})
	if err != nil {
		return err
	}
	res.CronFanoutInsertS = ptr(round(lastFire.Sub(slot).Seconds(), 3))
	res.CronFanoutStartS = ptr(round(maxStarted.Sub(slot).Seconds(), 3))
	m.note("first_fire_call_s", round(firstFire.Sub(slot).Seconds(), 3))
	m.note("max_created_at_s", round(maxCreated.Sub(slot).Seconds(), 3))
	m.note("job_create_ms_each", round(ms(perJob), 3))
	return nil
}

// cronAt returns a 6-field cron expression (with seconds) that fires at
// t's second, minute and hour every day, for a job in UTC.
func cronAt(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%d %d %d * * *", t.Second(), t.Minute(), t.Hour())
}

// createJob creates a noop job through the service, as the API does.
func (m *measurement) createJob(ctx context.Context, id, cronExpr string, enabled bool) (*connecthub.Job, error) {
	handler, tz := noop.Name, "UTC"
	in := &connecthub.JobInput{ID: &id, Handler: &handler, Timezone: &tz, Enabled: &enabled}
	if cronExpr != "" {
		in.CronExpr = &cronExpr
	}
	j, err := m.e.svc.JobCreate(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("create job %s: %w", id, err)
	}
	return j, nil
}

// createJobs creates count jobs named prefix00000, prefix00001, ... with
// jobCreators goroutines.
func (m *measurement) createJobs(ctx context.Context, prefix string, count int, cronExpr string, enabled bool) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(jobCreators, count) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= count || ctx.Err() != nil {
					return
				}
				if _, err := m.createJob(ctx, fmt.Sprintf("%s%05d", prefix, i), cronExpr, enabled); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// insertRuns inserts n QUEUED runs of job in batches of insertBatch.
func (m *measurement) insertRuns(ctx context.Context, job *connecthub.Job, n int) error {
	for left := n; left > 0; left -= insertBatch {
		now := time.Now()
		batch := make([]*connecthub.Run, min(left, insertBatch))
		for i := range batch {
			batch[i] = connecthub.NewRun(job, connecthub.TriggerAPI, now, now, "bench")
		}
		if err := m.e.st.RunInsert(ctx, batch); err != nil {
			return fmt.Errorf("insert runs: %w", err)
		}
		m.diag.Inserts++
	}
	return nil
}

// beginMeasured ends the setup: it closes and reopens the store, so that
// the measured phase starts from a store as a node boots with it and, on
// PostgreSQL, so that the setup's transactions are published and can be
// told apart from the measured ones. Then it starts the CPU profile.
func (m *measurement) beginMeasured(ctx context.Context) error {
	m.diag.Inserts = 0
	if err := m.e.close(); err != nil {
		return err
	}
	if m.a.System == systemPostgres {
		base, err := pgXacts(ctx, m.a.adminURL, m.a.db)
		if err != nil {
			return err
		}
		m.xactBase = base
		if m.walBase, err = pgWALStats(ctx, m.a.adminURL); err != nil {
			return err
		}
	}
	if err := m.e.open(ctx); err != nil {
		return err
	}
	if m.a.cpuProfile != "" {
		if err := m.writeAllocs("allocs-base"); err != nil {
			return err
		}
		f, err := os.Create(m.profilePath("cpu"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		m.cpuFile = f
	}
	m.cpuStart = readCPUTimes()
	return nil
}

// endMeasured ends the measured phase: it stops the profile and the node
// (when n is not nil), notes the peak RSS and the store calls, and on
// PostgreSQL closes the store to count the transactions, then reopens it
// for the verification.
func (m *measurement) endMeasured(ctx context.Context, n *node) error {
	end := readCPUTimes()
	m.diag.WallS = round(end.wall.Sub(m.cpuStart.wall).Seconds(), 3)
	m.diag.ProcessCPUS = round((end.process - m.cpuStart.process).Seconds(), 3)
	m.diag.MachineCPUS = -1
	if end.busy >= 0 && m.cpuStart.busy >= 0 {
		m.diag.MachineCPUS = round((end.busy - m.cpuStart.busy).Seconds(), 3)
	}
	var errs []error
	if m.cpuFile != nil {
		pprof.StopCPUProfile()
		errs = append(errs, m.cpuFile.Close(), m.writeAllocs("allocs"))
		m.cpuFile = nil
	}
	if n != nil {
		errs = append(errs, n.stop())
		m.diag.Claims = n.src.claims.Load()
		m.diag.Completes = n.src.completes.Load()
		m.diag.CompleteClaims = n.src.completeClaims.Load()
		// The time spent in each kind of call, summed over calls (calls
		// run concurrently, so the sum may exceed WallS): which one
		// bounds the throughput.
		m.note("claim_calls_ms", round(float64(n.src.claimNanos.Load())/1e6, 1))
		m.note("complete_calls_ms", round(float64(n.src.completeNanos.Load())/1e6, 1))
		m.note("complete_claim_calls_ms", round(float64(n.src.ccNanos.Load())/1e6, 1))
		m.diag.Heartbeats = n.src.heartbeats.Load()
		m.diag.LogAppends = n.src.logAppends.Load()
		m.diag.Runs = n.src.completed.Load()
	}
	rss, err := peakRSSMB()
	errs = append(errs, err)
	m.rss = rss
	if m.xactBase >= 0 {
		errs = append(errs, m.e.close())
		after, err := pgXacts(ctx, m.a.adminURL, m.a.db)
		errs = append(errs, err)
		m.diag.PGXacts = after - m.xactBase
		if err == nil && m.diag.Runs > 0 {
			// Setup only inserts; every update of runs is the measured
			// phase's (claims and completions).
			ts, err := pgRunsTableStats(ctx, m.a.dsn)
			errs = append(errs, err)
			m.note("runs_updates_per_run", round(float64(ts.Updates)/float64(m.diag.Runs), 3))
			wal, err := pgWALStats(ctx, m.a.adminURL)
			errs = append(errs, err)
			m.note("wal_syncs", float64(wal.Syncs-m.walBase.Syncs))
			m.note("wal_bytes_per_run", round(float64(wal.Bytes-m.walBase.Bytes)/float64(m.diag.Runs), 0))
			m.note("runs_hot_update_pct", round(100*float64(ts.HOTUpdates)/float64(max(ts.Updates, 1)), 1))
			m.note("runs_indexes", float64(ts.Indexes))
			m.note("runs_autovacuums", float64(ts.AutoVacuums))
			m.note("runs_autoanalyzes", float64(ts.AutoAnalyzes))
		}
		errs = append(errs, m.e.open(ctx))
	}
	return errors.Join(errs...)
}

// note records a measurement-specific figure in the diagnostics.
func (m *measurement) note(key string, v float64) {
	if m.diag.Extra == nil {
		m.diag.Extra = map[string]float64{}
	}
	m.diag.Extra[key] = v
}

// profilePath names a profile file of this measurement.
func (m *measurement) profilePath(kind string) string {
	name := fmt.Sprintf("%s-%s", m.a.System, m.a.Kind)
	if m.a.C > 0 {
		name += fmt.Sprintf("-c%d", m.a.C)
	}
	if m.a.tag != "" {
		name += "-" + m.a.tag
	}
	return filepath.Join(m.a.cpuProfile, name+"."+kind+".pprof")
}

// writeAllocs writes the allocation profile, after a GC so that it is up
// to date. The measured phase's allocations are the difference between
// "allocs" and "allocs-base" (go tool pprof -base).
func (m *measurement) writeAllocs(kind string) error {
	runtime.GC()
	f, err := os.Create(m.profilePath(kind))
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// waitDone waits until the node committed want outcomes.
func waitDone(ctx context.Context, n *node, want int) error {
	select {
	case <-n.src.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gave up after %d of %d outcomes were recorded: %w", n.src.completed.Load(), want, ctx.Err())
	}
}

// waitIdle waits until the worker made its first claim (which finds
// nothing), so that the latency runs find it idle, waiting for a wake-up.
func waitIdle(ctx context.Context, n *node) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for n.src.claims.Load() == 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the worker never claimed: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// verifyRuns checks that the store holds exactly want runs and that each
// was recorded in full: SUCCESS at attempt 1 on node, with its start and
// finish times, and an empty log (noop writes nothing). each, when not nil,
// sees every run and may fail the verification.
func verifyRuns(ctx context.Context, st store.Store, want int, node string, each func(*connecthub.Run) error) error {
	count := 0
	cursor := ""
	for {
		runs, next, err := st.RunList(ctx, store.RunListParams{Limit: 500, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("verify: list runs: %w", err)
		}
		for _, r := range runs {
			count++
			if err := checkRun(r, node); err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			if each != nil {
				if err := each(r); err != nil {
					return fmt.Errorf("verify: %w", err)
				}
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if count != want {
		return fmt.Errorf("verify: the store holds %d runs, want %d", count, want)
	}
	return nil
}

// checkRun checks what every run of the benchmark must record.
func checkRun(r *connecthub.Run, node string) error {
	switch {
	case r.Status != connecthub.StatusSuccess:
		return fmt.Errorf("run %s is %s, want SUCCESS (error %q)", r.ID, r.Status, r.Error)
	case r.Attempt != 1:
		return fmt.Errorf("run %s is at attempt %d, want 1", r.ID, r.Attempt)
	case r.Node != node:
		return fmt.Errorf("run %s ran on node %q, want %q", r.ID, r.Node, node)
	case r.StartedAt == nil || r.FinishedAt == nil:
		return fmt.Errorf("run %s lacks its started_at or finished_at", r.ID)
	case r.FinishedAt.Before(*r.StartedAt):
		return fmt.Errorf("run %s finished (%s) before it started (%s)", r.ID, r.FinishedAt, r.StartedAt)
	case r.LogSize != 0:
		return fmt.Errorf("run %s has a log of %d bytes, want an empty one", r.ID, r.LogSize)
	}
	return nil
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
