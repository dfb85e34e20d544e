// Command bench is ConnectHub's benchmark harness (issue 3). For each
// database driver it measures, on this machine, a real node (the store with
// its default options, the scheduler, the rescuer and the worker pool with
// the default configuration except the number of workers) running the
// built-in noop handler:
//
//   - insert: N runs inserted in batches of 1,000 (runs/s);
//   - work: N queued runs executed by a node with C workers, from the
//     node's start until the last outcome is committed (runs/s), for each C;
//   - latency: runs inserted one at a time at a steady rate into an idle
//     node with the default 20 workers, enqueue-to-handler-start p50/p95/p99;
//   - cron: N jobs whose cron fires in the same second, how long after the
//     slot the last run was committed and the last one started;
//   - history: -history-n finished runs of 100 jobs over 90 days, loaded in
//     bulk, then the stats, metrics, dashboard, jobs and job page reads,
//     median of 5 each (in the diag line: build_s and <read>_ms);
//     -history-keep keeps that database for the next run, which reuses it
//     (historykeep.go);
//
// and the peak RSS of each. Every measurement runs in a process of its own
// (the binary re-executes itself), so that one measurement's memory and
// garbage do not weigh on the next, and each gets a fresh database: a new
// temporary directory for SQLite, a new database for PostgreSQL. At the end
// of each measurement every run is checked to be recorded in full
// (SUCCESS, attempt 1, node, started and finished times, empty log); a
// failed check fails the benchmark.
//
// Usage:
//
//	go run ./bench [-driver sqlite|postgres|all] [-n 20000] [-c 50,2000]
//	    [-pg-url URL] [-out FILE] [-cpuprofile DIR] [-repeat 3] [-only KINDS]
//	    [-history-n N] [-history-keep FILE_OR_DBNAME]
//
// The PostgreSQL server is -pg-url or $CONNECTHUB_TEST_POSTGRES_URL; the
// role must be allowed to create databases. scripts/with-test-postgres.sh
// provides a throwaway server:
//
//	scripts/with-test-postgres.sh go run ./bench -driver all
//
// Each measurement is repeated (-repeat) and the median is reported, because
// the machine may be shared. Results go to stdout as one JSON line per
// measurement (also appended to -out), followed by a table; progress, each
// repetition's figures and the store round trips go to stderr.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == childFlag {
		os.Exit(childMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(parentMain(os.Args[1:], os.Stdout, os.Stderr))
}

// parseOptions parses the parent's command line. getenv supplies
// CONNECTHUB_TEST_POSTGRES_URL when -pg-url is not given.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var cs, only string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.driverFlag, "driver", "all", "database driver: sqlite, postgres or all")
	fs.IntVar(&o.n, "n", 20000, "runs of the insert and work measurements")
	fs.StringVar(&cs, "c", "50,2000", "comma-separated worker counts of the work measurement (the cron fan-out uses the largest)")
	fs.StringVar(&o.pgURL, "pg-url", "", "PostgreSQL server URL (default $CONNECTHUB_TEST_POSTGRES_URL); a fresh database is created on it per measurement")
	fs.StringVar(&o.out, "out", "", "also append the JSON lines to this file")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write CPU and allocation profiles of each measured phase into this directory")
	fs.IntVar(&o.repeat, "repeat", 3, "repetitions of each measurement; the median is reported")
	fs.StringVar(&only, "only", "", "comma-separated subset of the measurements: insert,work,latency,cron (default all)")
	fs.IntVar(&o.latN, "lat-n", 500, "runs of the latency measurement")
	fs.IntVar(&o.latRate, "lat-rate", 100, "insert rate of the latency measurement, runs/s")
	fs.IntVar(&o.cronJobs, "cron-jobs", 10000, "jobs of the cron fan-out measurement")
	fs.IntVar(&o.historyN, "history-n", 10_000_000, "finished runs of the history measurement (reads timed over that history)")
	fs.StringVar(&o.historyKeep, "history-keep", "", "keep the history measurement's database and reuse it when it holds -history-n runs: a SQLite file path, or a PostgreSQL database name on -pg-url's server")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "longest a single measurement may take")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench [flags]\n\nConnectHub's benchmark harness: see docs/benchmarks.md.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var err error
	if o.drivers, err = parseDrivers(o.driverFlag); err != nil {
		return o, err
	}
	if o.cs, err = parseConcurrencies(cs); err != nil {
		return o, err
	}
	if o.kinds, err = parseKinds(only); err != nil {
		return o, err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"-n", o.n}, {"-repeat", o.repeat}, {"-lat-n", o.latN}, {"-lat-rate", o.latRate}, {"-cron-jobs", o.cronJobs}, {"-history-n", o.historyN}} {
		if f.v < 1 {
			return o, fmt.Errorf("%s must be positive, got %d", f.name, f.v)
		}
	}
	if o.timeout <= 0 {
		return o, fmt.Errorf("-timeout must be positive, got %s", o.timeout)
	}
	if o.pgURL == "" {
		o.pgURL = getenv("CONNECTHUB_TEST_POSTGRES_URL")
	}
	if err := checkHistoryKeep(o); err != nil {
		return o, err
	}
	return o, nil
}

// parentMain runs the whole benchmark and returns the exit code: 0, 1 when
// a measurement failed (its error is printed), 2 for bad usage.
func parentMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "bench: cannot find my own executable to run the measurements: %v\n", err)
		return 1
	}
	if o.cpuProfile != "" {
		if err := os.MkdirAll(o.cpuProfile, 0o755); err != nil {
			fmt.Fprintf(stderr, "bench: -cpuprofile: %v\n", err)
			return 1
		}
	}
	var out *os.File
	if o.out != "" {
		if out, err = os.OpenFile(o.out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
			fmt.Fprintf(stderr, "bench: -out: %v\n", err)
			return 1
		}
		defer out.Close()
	}

	var pgVersion string
	if slices.Contains(o.drivers, "postgres") {
		pgVersion, err = checkPostgres(ctx, o.pgURL)
		if err != nil {
			if o.driverFlag == "postgres" {
				fmt.Fprintf(stderr, "bench: %v\n", err)
				return 1
			}
			fmt.Fprintf(stderr, "bench: PostgreSQL is not available, running SQLite only: %v\n", err)
			o.drivers = []string{"sqlite"}
		}
	}

	m := describeMachine()
	loadStart := loadAvg()
	var specs []spec
	for _, d := range o.drivers {
		specs = append(specs, plan(systemOf(d), o)...)
	}
	fmt.Fprintf(stderr, "bench: %d measurement(s) x %d repetition(s): %s\n", len(specs), o.repeat, describeSpecs(specs))
	fmt.Fprintf(stderr, "bench: %s, %d CPUs, %s, PostgreSQL %s, load average %.2f\n", orUnknown(m.CPUModel), m.CPUs, m.GoVersion, orUnknown(pgVersion), loadStart)

	// Repetitions are interleaved (all measurements, then all again) so
	// that a burst of load from another user of the machine spreads over
	// several measurements instead of spoiling all repetitions of one.
	outs := make([]*outcome, len(specs))
	for i, s := range specs {
		outs[i] = &outcome{spec: s}
	}
	for rep := 1; rep <= o.repeat && ctx.Err() == nil; rep++ {
		for _, oc := range outs {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(stderr, "bench: [%d/%d] %s %s ...\n", rep, o.repeat, oc.spec.System, oc.spec.label())
			rep, err := runChild(ctx, self, oc.spec, o, fmt.Sprintf("rep%d", rep), stderr)
			if err != nil {
				fmt.Fprintf(stderr, "bench: %s %s FAILED: %v\n", oc.spec.System, oc.spec.label(), err)
				oc.errs = append(oc.errs, err)
				continue
			}
			oc.results = append(oc.results, rep.Result)
			oc.diags = append(oc.diags, rep.Diag)
			line, _ := json.Marshal(rep.Result)
			diag, _ := json.Marshal(rep.Diag)
			fmt.Fprintf(stderr, "bench:   %s\nbench:   diag %s\n", line, diag)
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "bench: interrupted")
	}

	failed := false
	for _, oc := range outs {
		if len(oc.errs) > 0 {
			failed = true
		}
		if len(oc.results) == 0 {
			continue
		}
		r := summarize(oc.results)
		if err := writeJSONLine(stdout, r); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		if out != nil {
			if err := writeJSONLine(out, r); err != nil {
				fmt.Fprintf(stderr, "bench: -out: %v\n", err)
				failed = true
			}
		}
	}
	if err := writeTable(stdout, outs, o.repeat, m, pgVersion, loadStart, loadAvg()); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

// checkPostgres says whether the PostgreSQL server can be used, and its
// version.
func checkPostgres(ctx context.Context, pgURL string) (string, error) {
	if pgURL == "" {
		return "", errors.New("no server: set -pg-url or CONNECTHUB_TEST_POSTGRES_URL (scripts/with-test-postgres.sh provides a throwaway one)")
	}
	v, err := pgServerVersion(ctx, pgURL)
	if err != nil {
		return "", err
	}
	return v, nil
}

// runChild runs one measurement in a fresh process with a fresh database,
// and returns what it reported. The database and the directory are removed
// afterwards, whatever happened.
func runChild(ctx context.Context, self string, s spec, o options, tag string, stderr io.Writer) (rep childReport, err error) {
	dir, err := os.MkdirTemp("", "connecthub-bench-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	a := childArgs{spec: s, dir: dir, cpuProfile: o.cpuProfile, tag: tag, timeout: s.timeout(o.timeout)}
	if s.Kind == kindHistory && o.historyKeep != "" {
		if err := a.keepHistory(ctx, o); err != nil {
			return rep, err
		}
	} else if s.System == systemPostgres {
		name, dbURL, err := pgCreateDatabase(ctx, o.pgURL)
		if err != nil {
			return rep, err
		}
		defer func() {
			if dropErr := pgDropDatabase(context.WithoutCancel(ctx), o.pgURL, name); dropErr != nil && err == nil {
				err = dropErr
			}
		}()
		a.dsn, a.adminURL, a.db = dbURL, o.pgURL, name
	} else {
		a.dsn = filepath.Join(dir, "connecthub.db")
	}

	// The child has its own deadline; this one, a little later, only
	// catches a child that hangs past it.
	ctx, cancel := context.WithTimeout(ctx, a.timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, a.flags()...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return rep, fmt.Errorf("measurement process: %w", err)
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &rep); err != nil {
		return rep, fmt.Errorf("measurement process wrote %q: %w", stdout.String(), err)
	}
	return rep, nil
}
