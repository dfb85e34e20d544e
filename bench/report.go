package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Result is one measurement, printed as one JSON line. The keys are the
// ones issue 3 fixes; a key that does not apply to the measurement is null,
// so every line has the same shape and a consumer never guesses whether a
// missing key means zero.
type Result struct {
	System            string   `json:"system"`
	Config            string   `json:"config"`
	N                 int      `json:"n"`
	C                 *int     `json:"c"`
	InsertJPS         *float64 `json:"insert_jps"`
	WorkJPS           *float64 `json:"work_jps"`
	LatP50MS          *float64 `json:"lat_p50_ms"`
	LatP95MS          *float64 `json:"lat_p95_ms"`
	LatP99MS          *float64 `json:"lat_p99_ms"`
	CronFanoutInsertS *float64 `json:"cron_fanout_insert_s"`
	CronFanoutStartS  *float64 `json:"cron_fanout_start_s"`
	PeakRSSMB         float64  `json:"peak_rss_mb"`
}

// Diag is what explains a Result: the round trips behind it and the load
// it ran under. It goes to stderr and to the table, not into the JSON
// line, whose keys are fixed.
type Diag struct {
	// The call counts are the store calls of the measured phase: the
	// benchmark's RunInsert batches, the worker's claims (including empty
	// ones), completions, heartbeats and log appends, and the scheduler's
	// fires. CompleteClaims are the worker's calls that completed and
	// claimed at once (counted there only, not as claims or completions).
	// Runs is how many runs they served.
	Inserts, Claims, Completes, CompleteClaims, Heartbeats, LogAppends, Fires int64
	Runs                                                                      int64
	// PGXacts is the number of transactions the database committed or
	// rolled back during the measured phase (pg_stat_database), -1 when not
	// measured (SQLite).
	PGXacts int64
	// LoadAvg is the 1-minute load average when the measurement started.
	LoadAvg float64
	// WallS is the measured phase's duration; ProcessCPUS the CPU time this
	// process used in it; MachineCPUS the CPU time the whole machine was
	// busy in it (-1 when unknown). MachineCPUS - ProcessCPUS is what the
	// database server and the machine's other users took.
	WallS, ProcessCPUS, MachineCPUS float64
	// Extra holds measurement-specific notes (such as the latency measured
	// to the claim instead of the handler start).
	Extra map[string]float64 `json:",omitempty"`
}

// callsPerRun is the worker's and scheduler's store calls per run.
func (d Diag) callsPerRun() float64 {
	if d.Runs == 0 {
		return math.NaN()
	}
	return float64(d.Inserts+d.Claims+d.Completes+d.CompleteClaims+d.Heartbeats+d.LogAppends+d.Fires) / float64(d.Runs)
}

// xactsPerRun is the database transactions per run, NaN when unknown.
func (d Diag) xactsPerRun() float64 {
	if d.Runs == 0 || d.PGXacts < 0 {
		return math.NaN()
	}
	return float64(d.PGXacts) / float64(d.Runs)
}

// childReport is what a measurement process writes on its stdout.
type childReport struct {
	Result Result `json:"result"`
	Diag   Diag   `json:"diag"`
}

// outcome gathers the repetitions of one measurement.
type outcome struct {
	spec    spec
	results []Result
	diags   []Diag
	errs    []error
}

// ptr returns a pointer to v, for the nullable JSON fields.
func ptr[T any](v T) *T { return &v }

// round rounds v to the given number of decimals, so that JSON lines do not
// carry float noise such as 31234.567891234.
func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// percentile returns the nearest-rank percentile p (0 < p <= 100) of
// sorted, which must be sorted ascending and not empty.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// median returns the median of vs, averaging the two middle values of an
// even count; NaN for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// medianOf returns the median of the non-nil values that field picks from
// rs, rounded, or nil when all of them are nil.
func medianOf(rs []Result, field func(*Result) *float64, decimals int) *float64 {
	var vs []float64
	for i := range rs {
		if v := field(&rs[i]); v != nil {
			vs = append(vs, *v)
		}
	}
	if len(vs) == 0 {
		return nil
	}
	return ptr(round(median(vs), decimals))
}

// summarize folds the repetitions of one measurement into the Result that
// is reported: the median of each figure, because the machine is shared and
// one repetition can be slowed by someone else's test run, except the peak
// RSS, which is the maximum, because its target is a ceiling.
func summarize(rs []Result) Result {
	out := rs[0]
	out.InsertJPS = medianOf(rs, func(r *Result) *float64 { return r.InsertJPS }, 0)
	out.WorkJPS = medianOf(rs, func(r *Result) *float64 { return r.WorkJPS }, 0)
	out.LatP50MS = medianOf(rs, func(r *Result) *float64 { return r.LatP50MS }, 3)
	out.LatP95MS = medianOf(rs, func(r *Result) *float64 { return r.LatP95MS }, 3)
	out.LatP99MS = medianOf(rs, func(r *Result) *float64 { return r.LatP99MS }, 3)
	out.CronFanoutInsertS = medianOf(rs, func(r *Result) *float64 { return r.CronFanoutInsertS }, 3)
	out.CronFanoutStartS = medianOf(rs, func(r *Result) *float64 { return r.CronFanoutStartS }, 3)
	out.PeakRSSMB = 0
	for _, r := range rs {
		out.PeakRSSMB = max(out.PeakRSSMB, r.PeakRSSMB)
	}
	return out
}

// summarizeDiags returns the medians over the repetitions of the calls and
// transactions per run, of the load average, and of the share of the
// machine's CPUs that this process and the whole machine used during the
// measured phase, in percent.
func summarizeDiags(ds []Diag, cpus int) (callsPerRun, xactsPerRun, load, procPct, hostPct float64) {
	var calls, xacts, loads, procs, hosts []float64
	for _, d := range ds {
		if d.WallS > 0 && cpus > 0 {
			capacity := d.WallS * float64(cpus)
			procs = append(procs, 100*d.ProcessCPUS/capacity)
			if d.MachineCPUS >= 0 {
				hosts = append(hosts, 100*d.MachineCPUS/capacity)
			}
		}
		if v := d.callsPerRun(); !math.IsNaN(v) {
			calls = append(calls, v)
		}
		if v := d.xactsPerRun(); !math.IsNaN(v) {
			xacts = append(xacts, v)
		}
		if d.LoadAvg >= 0 {
			loads = append(loads, d.LoadAvg)
		}
	}
	return median(calls), median(xacts), median(loads), median(procs), median(hosts)
}

// writeJSONLine writes r as one line of JSON.
func writeJSONLine(w io.Writer, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// fmtNum formats an optional figure for the table: "-" when absent.
func fmtNum(v *float64, decimals int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', decimals, 64)
}

// fmtFloat formats a figure that may be NaN (unknown) for the table.
func fmtFloat(v float64, decimals int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// writeTable prints the human summary: one row per measurement (medians),
// the targets of issue 3 with their verdicts, and the machine.
func writeTable(w io.Writer, outs []*outcome, reps int, m machine, pgVersion string, loadStart, loadEnd float64) error {
	fmt.Fprintf(w, "\nConnectHub benchmark: median of %d repetition(s) per row (peak RSS: maximum)\n\n", reps)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tconfig\tn\tc\tinsert runs/s\twork runs/s\tp50 ms\tp95 ms\tp99 ms\tcron insert s\tcron start s\tpeak RSS MB\tcalls/run\txacts/run\tCPU% bench/host\tload\t")
	for _, o := range outs {
		c := "-"
		if o.spec.C > 0 {
			c = strconv.Itoa(o.spec.C)
		}
		if len(o.results) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\tFAILED\t\t\t\t\t\t\t\t\t\t\t\t\n", o.spec.System, o.spec.Kind, o.spec.N, c)
			continue
		}
		r := summarize(o.results)
		calls, xacts, load, procPct, hostPct := summarizeDiags(o.diags, m.CPUs)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s/%s\t%s\t\n",
			r.System, r.Config, r.N, c,
			fmtNum(r.InsertJPS, 0), fmtNum(r.WorkJPS, 0),
			fmtNum(r.LatP50MS, 2), fmtNum(r.LatP95MS, 2), fmtNum(r.LatP99MS, 2),
			fmtNum(r.CronFanoutInsertS, 3), fmtNum(r.CronFanoutStartS, 3),
			r.PeakRSSMB, fmtFloat(calls, 3), fmtFloat(xacts, 3), fmtFloat(procPct, 0), fmtFloat(hostPct, 0), fmtFloat(load, 2))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range outs {
		if n := len(o.errs); n > 0 {
			fmt.Fprintf(w, "\n%s %s: %d of %d repetitions FAILED; first error: %v", o.spec.System, o.spec.label(), n, n+len(o.results), firstErr(o.errs))
		}
	}

	fmt.Fprintln(w, "\nTargets (issue 3):")
	for _, v := range checkTargets(outs) {
		fmt.Fprintf(w, "  %-4s %s: %s\n", v.verdict, v.target, v.got)
	}

	fmt.Fprintln(w, "\nMachine:")
	fmt.Fprintf(w, "  CPU: %s, %d CPUs (GOMAXPROCS %d), %d MiB memory, kernel %s\n", orUnknown(m.CPUModel), m.CPUs, m.GOMAXPROCS, m.MemTotalMB, orUnknown(m.Kernel))
	fmt.Fprintf(w, "  Go: %s; PostgreSQL: %s\n", m.GoVersion, orUnknown(pgVersion))
	fmt.Fprintf(w, "  load average (1 min): %.2f at start, %.2f at end\n", loadStart, loadEnd)
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func firstErr(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// verdict is one target of issue 3 checked against a measurement.
type verdict struct {
	verdict string // PASS or MISS
	target  string
	got     string
}

// checkTargets compares the medians with the targets of issue 3. A target
// whose measurement did not run (another driver, another -c) is not listed.
func checkTargets(outs []*outcome) []verdict {
	var vs []verdict
	check := func(ok bool, target, got string) {
		v := "MISS"
		if ok {
			v = "PASS"
		}
		vs = append(vs, verdict{v, target, got})
	}
	for _, o := range outs {
		if len(o.results) == 0 {
			continue
		}
		r := summarize(o.results)
		label := fmt.Sprintf("%s %s", r.System, o.spec.label())
		switch o.spec.Kind {
		case kindWork:
			want := 30000.0
			if o.spec.System == systemPostgres && o.spec.C < 2000 {
				want = 15000
			}
			if o.spec.System == systemPostgres && o.spec.C != 50 && o.spec.C != 2000 {
				break // the PostgreSQL targets name C=50 and C=2000 only
			}
			check(*r.WorkJPS >= want, fmt.Sprintf("%s work throughput >= %.0f runs/s", label, want), fmt.Sprintf("%.0f runs/s", *r.WorkJPS))
			check(r.PeakRSSMB < 150, label+" peak RSS < 150 MB", fmt.Sprintf("%.1f MB", r.PeakRSSMB))
		case kindInsert:
			check(r.PeakRSSMB < 150, label+" peak RSS < 150 MB", fmt.Sprintf("%.1f MB", r.PeakRSSMB))
		case kindLatency:
			check(*r.LatP99MS <= 5, label+" enqueue-to-start p99 <= 5 ms", fmt.Sprintf("%.2f ms", *r.LatP99MS))
		case kindCron:
			check(*r.CronFanoutInsertS <= 1, label+" all runs inserted within 1 s of the slot", fmt.Sprintf("%.3f s", *r.CronFanoutInsertS))
		}
	}
	return vs
}

// describeSpecs lists the measurements of a plan, for the start banner.
func describeSpecs(specs []spec) string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = s.System + " " + s.label()
	}
	return strings.Join(parts, ", ")
}
