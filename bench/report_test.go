package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	tests := []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"one value", []float64{7}, 99, 7},
		{"p50 of 1..100", hundred, 50, 50},
		{"p95 of 1..100", hundred, 95, 95},
		{"p99 of 1..100", hundred, 99, 99},
		{"p100 is the maximum", hundred, 100, 100},
		{"tiny p is the minimum", hundred, 0.1, 1},
		{"p99 of 3 values is the maximum", []float64{1, 2, 3}, 99, 3},
		{"p50 of 4 values is the 2nd (nearest rank)", []float64{1, 2, 3, 4}, 50, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vs   []float64
		want float64
	}{
		{"odd count, unsorted", []float64{3, 1, 2}, 2},
		{"even count averages the middle", []float64{4, 1, 3, 2}, 2.5},
		{"one", []float64{5}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := append([]float64(nil), tt.vs...)
			if got := median(tt.vs); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", tt.vs, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.vs[i] {
					t.Fatalf("median reordered its input: %v", tt.vs)
				}
			}
		})
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestSummarizeTakesMediansAndMaxRSS(t *testing.T) {
	t.Parallel()
	rs := []Result{
		{System: systemSQLite, Config: kindWork, N: 10, C: ptr(50), WorkJPS: ptr(100.0), PeakRSSMB: 40},
		{System: systemSQLite, Config: kindWork, N: 10, C: ptr(50), WorkJPS: ptr(300.0), PeakRSSMB: 60},
		{System: systemSQLite, Config: kindWork, N: 10, C: ptr(50), WorkJPS: ptr(200.0), PeakRSSMB: 50},
	}
	got := summarize(rs)
	if got.WorkJPS == nil || *got.WorkJPS != 200 {
		t.Errorf("work_jps = %v, want the median 200", got.WorkJPS)
	}
	if got.PeakRSSMB != 60 {
		t.Errorf("peak_rss_mb = %v, want the maximum 60", got.PeakRSSMB)
	}
	if got.InsertJPS != nil || got.LatP99MS != nil || got.CronFanoutInsertS != nil {
		t.Errorf("figures no repetition measured must stay null: %+v", got)
	}
	if got.System != systemSQLite || got.Config != kindWork || got.N != 10 || *got.C != 50 {
		t.Errorf("identity fields changed: %+v", got)
	}
}

func TestResultJSONHasEveryKey(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := writeJSONLine(&buf, Result{System: systemPostgres, Config: kindInsert, N: 5, InsertJPS: ptr(12.5), PeakRSSMB: 3}); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("want exactly one line, got %q", line)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	keys := []string{"system", "config", "n", "c", "insert_jps", "work_jps", "lat_p50_ms", "lat_p95_ms", "lat_p99_ms",
		"cron_fanout_insert_s", "cron_fanout_start_s", "peak_rss_mb"}
	if len(m) != len(keys) {
		t.Errorf("got %d keys, want exactly the %d of issue 3: %v", len(m), len(keys), m)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %s", k, line)
		}
	}
	if m["c"] != nil || m["work_jps"] != nil {
		t.Errorf("figures that do not apply must be null: %s", line)
	}
	if m["system"] != systemPostgres || m["insert_jps"] != 12.5 {
		t.Errorf("wrong values: %s", line)
	}
}

func TestDiagPerRun(t *testing.T) {
	t.Parallel()
	d := Diag{Claims: 10, Completes: 20, Heartbeats: 5, Fires: 5, Inserts: 10, Runs: 100, PGXacts: 50}
	if got := d.callsPerRun(); got != 0.5 {
		t.Errorf("callsPerRun = %v, want 0.5", got)
	}
	if got := d.xactsPerRun(); got != 0.5 {
		t.Errorf("xactsPerRun = %v, want 0.5", got)
	}
	d.PGXacts = -1
	if got := d.xactsPerRun(); !math.IsNaN(got) {
		t.Errorf("xactsPerRun without a count = %v, want NaN", got)
	}
	if got := (Diag{}).callsPerRun(); !math.IsNaN(got) {
		t.Errorf("callsPerRun without runs = %v, want NaN", got)
	}
}

func TestCheckTargets(t *testing.T) {
	t.Parallel()
	outcomeOf := func(s spec, r Result) *outcome {
		r.System, r.Config, r.N = s.System, s.Kind, s.N
		return &outcome{spec: s, results: []Result{r}}
	}
	outs := []*outcome{
		outcomeOf(spec{System: systemPostgres, Kind: kindWork, N: 20000, C: 50}, Result{WorkJPS: ptr(16000.0), PeakRSSMB: 40}),
		outcomeOf(spec{System: systemPostgres, Kind: kindWork, N: 20000, C: 2000}, Result{WorkJPS: ptr(29000.0), PeakRSSMB: 160}),
		outcomeOf(spec{System: systemPostgres, Kind: kindWork, N: 20000, C: 7}, Result{WorkJPS: ptr(1.0), PeakRSSMB: 1}),
		outcomeOf(spec{System: systemSQLite, Kind: kindLatency, N: 500, C: 20}, Result{LatP99MS: ptr(5.5)}),
		outcomeOf(spec{System: systemSQLite, Kind: kindCron, N: 10000, C: 2000}, Result{CronFanoutInsertS: ptr(0.5)}),
		{spec: spec{System: systemSQLite, Kind: kindWork, N: 20000, C: 50}, errs: []error{errors.New("boom")}},
	}
	var got []string
	for _, v := range checkTargets(outs) {
		got = append(got, v.verdict+" "+v.target)
	}
	want := []string{
		"PASS connecthub-postgres work c=50 work throughput >= 15000 runs/s",
		"PASS connecthub-postgres work c=50 peak RSS < 150 MB",
		"MISS connecthub-postgres work c=2000 work throughput >= 30000 runs/s",
		"MISS connecthub-postgres work c=2000 peak RSS < 150 MB",
		"MISS connecthub-sqlite latency c=20 enqueue-to-start p99 <= 5 ms",
		"PASS connecthub-sqlite cron c=2000 all runs inserted within 1 s of the slot",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("verdicts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	outs := []*outcome{
		{
			spec:    spec{System: systemSQLite, Kind: kindWork, N: 100, C: 50},
			results: []Result{{System: systemSQLite, Config: kindWork, N: 100, C: ptr(50), WorkJPS: ptr(1234.0), PeakRSSMB: 42}},
			diags:   []Diag{{Claims: 2, Completes: 2, Runs: 100, PGXacts: -1, LoadAvg: 0.5, WallS: 1, ProcessCPUS: 1, MachineCPUS: 1.5}},
		},
		{spec: spec{System: systemSQLite, Kind: kindInsert, N: 100}, errs: []error{errors.New("disk full")}},
	}
	var buf bytes.Buffer
	m := machine{CPUModel: "Test CPU", CPUs: 2, GOMAXPROCS: 2, MemTotalMB: 1024, GoVersion: "go1.x"}
	if err := writeTable(&buf, outs, 3, m, "15.0", 0.5, 0.7); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"median of 3", "1234", "42.0", "0.040", "50/75", "FAILED", "disk full", "Test CPU", "PostgreSQL: 15.0",
		"MISS connecthub-sqlite work c=50 work throughput >= 30000 runs/s: 1234 runs/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
