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
	"slices"
	"time"

	"github.com/connecthub/connecthub"
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
	// keyPath is the kept history's Fernet key file ("" unless the
	// history is kept, see historykeep.go).
	keyPath string
}

// flags returns the command line that makes a child run a.
func (a childArgs) flags() []string {
	return []string{childFlag,
		"-system", a.System, "-kind", a.Kind,
		"-n", fmt.Sprint(a.N), "-c", fmt.Sprint(a.C), "-rate", fmt.Sprint(a.Rate),
		"-dsn", a.dsn, "-admin-url", a.adminURL, "-db", a.db, "-dir", a.dir,
		"-cpuprofile", a.cpuProfile, "-tag", a.tag, "-timeout", a.timeout.String(),
		"-key", a.keyPath,
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
	fs.StringVar(&a.keyPath, "key", "", "")
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
	case a.Kind != kindInsert && a.Kind != kindHistory && a.C < 1:
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
	// pgPM is the local server's postmaster (0: not measured) and
	// serverCPUBase its CPU time before the measured phase.
	pgPM          int
	serverCPUBase time.Duration

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
	case kindHistory:
		err = m.history(ctx, &res)
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
// work_jps counts from the first start, the moment the first claimed runs
// came back to the worker (just before the first handler is entered), as
// the River harness of ../shared/peers counts from its first Work call: the
// node's start-up is in the diag as startup_ms, and the figure from the
// node's start as work_jps_from_node_start.
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
	ready := time.Since(start)
	err = waitDone(ctx, n, m.a.N)
	if err := m.endMeasured(ctx, n); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	first := time.Unix(0, n.src.firstClaimed.Load())
	end := time.Unix(0, n.src.doneAt.Load())
	// Where the time before the first run went: the node's start, then
	// its first claim.
	m.note("ready_ms", round(ready.Seconds()*1000, 1))
	m.note("first_claim_ms", round(float64(n.src.firstClaim.Load()-start.UnixNano())/1e6, 1))
	m.note("startup_ms", round(first.Sub(start).Seconds()*1000, 1))
	m.note("work_jps_from_node_start", round(float64(m.a.N)/end.Sub(start).Seconds(), 0))
	res.WorkJPS = ptr(round(float64(m.a.N)/end.Sub(first).Seconds(), 0))
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
	// When each run's insert was called, and when it returned.
	type enqueue struct{ called, returned time.Time }
	enqueued := make(map[string]enqueue, m.a.N)
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
		enqueued[r.ID] = enqueue{now, time.Now()}
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

	var toHandler, toClaim, toInserted, toWake []float64
	err = verifyRuns(ctx, m.e.st, m.a.N, n.name, func(r *connecthub.Run) error {
		enq, ok := enqueued[r.ID]
		if !ok {
			return fmt.Errorf("run %s was not inserted by the benchmark", r.ID)
		}
		began, ok := starts.get(r.ID)
		if !ok {
			return fmt.Errorf("run %s: its handler was never entered", r.ID)
		}
		toHandler = append(toHandler, ms(began.Sub(enq.called)))
		toClaim = append(toClaim, ms(r.StartedAt.Sub(enq.called)))
		toInserted = append(toInserted, ms(enq.returned.Sub(enq.called)))
		toWake = append(toWake, ms(r.StartedAt.Sub(enq.returned)))
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(toHandler)
	slices.Sort(toClaim)
	slices.Sort(toInserted)
	slices.Sort(toWake)
	res.LatP50MS = ptr(round(percentile(toHandler, 50), 3))
	res.LatP95MS = ptr(round(percentile(toHandler, 95), 3))
	res.LatP99MS = ptr(round(percentile(toHandler, 99), 3))
	m.note("claim_p50_ms", round(percentile(toClaim, 50), 3))
	m.note("claim_p99_ms", round(percentile(toClaim, 99), 3))
	// The part of it that is the insert's own call (its commit), and the
	// part from the insert's return to the claim's start (the wake-up).
	m.note("insert_p50_ms", round(percentile(toInserted, 50), 3))
	m.note("insert_p99_ms", round(percentile(toInserted, 99), 3))
	m.note("wake_p50_ms", round(percentile(toWake, 50), 3))
	m.note("wake_p99_ms", round(percentile(toWake, 99), 3))
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
