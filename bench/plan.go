package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The systems, as the JSON key "system" names them.
const (
	systemSQLite   = "connecthub-sqlite"
	systemPostgres = "connecthub-postgres"
)

// The kinds of measurement, as the JSON key "config" names them.
const (
	kindInsert  = "insert"  // N runs inserted in batches, no workers
	kindWork    = "work"    // N queued runs executed by a node with C workers
	kindLatency = "latency" // runs inserted one at a time into an idle node
	kindCron    = "cron"    // N jobs due in the same second
	kindHistory = "history" // reads timed over N finished runs (history.go)
)

// allKinds is the order in which a repetition runs the measurements.
var allKinds = []string{kindInsert, kindWork, kindLatency, kindCron, kindHistory}

// Fixed parameters of issue 3.
const (
	// insertBatch is the size of each RunInsert call of the insert and work
	// measurements.
	insertBatch = 1000
	// defaultWorkers is CONNECTHUB_WORKERS's default: the latency target is
	// for "the default configuration".
	defaultWorkers = 20
)

// options are the parent's flags.
type options struct {
	drivers    []string // "sqlite", "postgres"
	driverFlag string
	n          int
	cs         []int
	pgURL      string
	out        string
	cpuProfile string
	repeat     int
	kinds      []string
	latN       int
	latRate    int
	cronJobs   int
	historyN   int
	// historyKeep keeps the history measurement's database (a SQLite
	// file, a PostgreSQL database name) for the next run; "" for none.
	historyKeep string
	timeout     time.Duration
}

// spec is one measurement: what a child process runs.
type spec struct {
	System string
	Kind   string
	N      int
	C      int // workers of the node; 0 for the insert measurement, which has none
	// Rate is the insert rate of the latency measurement, runs/s.
	Rate int
}

// label names the measurement in the table and in progress lines.
func (s spec) label() string {
	if s.C > 0 {
		return fmt.Sprintf("%s c=%d", s.Kind, s.C)
	}
	return s.Kind
}

// historyBuildAllowance is how long the history measurement may spend
// per run it loads, on top of -timeout: ten million runs take about 10
// minutes to build on a loaded machine of this kind (docs/benchmarks.md),
// so a fixed timeout would cut the default measurement short.
const historyBuildAllowance = 200 * time.Microsecond

// timeout is how long the measurement may take: base, plus the history's
// build allowance.
func (s spec) timeout(base time.Duration) time.Duration {
	if s.Kind == kindHistory {
		return base + time.Duration(s.N)*historyBuildAllowance
	}
	return base
}

// driver returns the store driver of the spec's system.
func (s spec) driver() string {
	if s.System == systemPostgres {
		return "postgres"
	}
	return "sqlite"
}

// parseDrivers turns -driver into the list of drivers to run.
func parseDrivers(v string) ([]string, error) {
	switch v {
	case "sqlite", "postgres":
		return []string{v}, nil
	case "all":
		return []string{"sqlite", "postgres"}, nil
	}
	return nil, fmt.Errorf("-driver must be sqlite, postgres or all, got %q", v)
}

// parseConcurrencies parses -c: a comma-separated list of positive worker
// counts, without duplicates.
func parseConcurrencies(v string) ([]int, error) {
	var cs []int
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		c, err := strconv.Atoi(part)
		if err != nil || c < 1 {
			return nil, fmt.Errorf("-c must be a comma-separated list of positive worker counts, got %q", v)
		}
		if slices.Contains(cs, c) {
			return nil, fmt.Errorf("-c lists %d twice", c)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// parseKinds parses -only: a comma-separated subset of the measurements,
// returned in the canonical order.
func parseKinds(v string) ([]string, error) {
	if v == "" {
		return allKinds, nil
	}
	want := map[string]bool{}
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if !slices.Contains(allKinds, part) {
			return nil, fmt.Errorf("-only: unknown measurement %q (want some of %s)", part, strings.Join(allKinds, ","))
		}
		want[part] = true
	}
	var kinds []string
	for _, k := range allKinds {
		if want[k] {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

// plan lists the measurements of one system. The cron fan-out runs with the
// largest -c: 10,000 runs due at once is a load a node is sized for, and
// the default 20 workers would measure the pool's size rather than the
// fan-out.
func plan(system string, o options) []spec {
	var specs []spec
	for _, k := range o.kinds {
		switch k {
		case kindInsert:
			specs = append(specs, spec{System: system, Kind: k, N: o.n})
		case kindWork:
			for _, c := range o.cs {
				specs = append(specs, spec{System: system, Kind: k, N: o.n, C: c})
			}
		case kindLatency:
			specs = append(specs, spec{System: system, Kind: k, N: o.latN, C: defaultWorkers, Rate: o.latRate})
		case kindCron:
			specs = append(specs, spec{System: system, Kind: k, N: o.cronJobs, C: slices.Max(o.cs)})
		case kindHistory:
			specs = append(specs, spec{System: system, Kind: k, N: o.historyN})
		}
	}
	return specs
}

// systemOf maps a driver to its system name.
func systemOf(driver string) string {
	if driver == "postgres" {
		return systemPostgres
	}
	return systemSQLite
}
