package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/testpg"
)

// TestMain lets the test binary stand in for the bench binary: the parent
// re-executes os.Executable with -child, which is the test binary here.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childFlag {
		os.Exit(childMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// quietLog discards the node's warnings in tests.
var quietLog = slog.New(slog.DiscardHandler)

// sqliteArgs returns the arguments of a small SQLite measurement in a
// directory of its own.
func sqliteArgs(t *testing.T, kind string, n, c int) childArgs {
	dir := t.TempDir()
	return childArgs{
		spec: spec{System: systemSQLite, Kind: kind, N: n, C: c, Rate: 200},
		dsn:  filepath.Join(dir, "connecthub.db"), dir: dir, timeout: time.Minute,
	}
}

func TestMeasurementsSQLite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  string
		n, c  int
		check func(t *testing.T, r Result, d Diag)
	}{
		{kindInsert, 2500, 0, func(t *testing.T, r Result, d Diag) {
			if r.InsertJPS == nil || *r.InsertJPS <= 0 || r.C != nil {
				t.Errorf("insert result: %+v", r)
			}
			if d.Inserts != 3 {
				t.Errorf("2500 runs in batches of %d took %d inserts, want 3", insertBatch, d.Inserts)
			}
		}},
		{kindWork, 300, 7, func(t *testing.T, r Result, d Diag) {
			if r.WorkJPS == nil || *r.WorkJPS <= 0 || *r.C != 7 {
				t.Errorf("work result: %+v", r)
			}
			if d.Runs != 300 || d.Claims == 0 || d.Completes == 0 {
				t.Errorf("work diagnostics: %+v", d)
			}
		}},
		{kindLatency, 20, 3, func(t *testing.T, r Result, d Diag) {
			if r.LatP50MS == nil || r.LatP95MS == nil || r.LatP99MS == nil {
				t.Fatalf("latency result: %+v", r)
			}
			if !(0 < *r.LatP50MS && *r.LatP50MS <= *r.LatP95MS && *r.LatP95MS <= *r.LatP99MS) {
				t.Errorf("percentiles out of order: %v %v %v", *r.LatP50MS, *r.LatP95MS, *r.LatP99MS)
			}
			if _, ok := d.Extra["claim_p99_ms"]; !ok {
				t.Errorf("latency diagnostics lack the claim latency: %+v", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			rep, err := runMeasurement(t.Context(), sqliteArgs(t, tt.kind, tt.n, tt.c), quietLog)
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Result
			if r.System != systemSQLite || r.Config != tt.kind || r.N != tt.n {
				t.Errorf("identity: %+v", r)
			}
			if r.PeakRSSMB <= 0 {
				t.Errorf("peak RSS %v", r.PeakRSSMB)
			}
			if rep.Diag.PGXacts != -1 {
				t.Errorf("SQLite has no transaction count, got %d", rep.Diag.PGXacts)
			}
			tt.check(t, r, rep.Diag)
		})
	}
}

func TestCronMeasurementSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a cron slot a few seconds ahead")
	}
	t.Parallel()
	rep, err := runMeasurement(t.Context(), sqliteArgs(t, kindCron, 40, 10), quietLog)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Result
	if r.CronFanoutInsertS == nil || r.CronFanoutStartS == nil {
		t.Fatalf("cron result: %+v", r)
	}
	// The runs cannot exist before their slot, and cannot start before
	// they exist; both are bounded by the child's timeout.
	if *r.CronFanoutInsertS < 0 || *r.CronFanoutStartS < *r.CronFanoutInsertS-0.001 || *r.CronFanoutStartS > 60 {
		t.Errorf("implausible fan-out times: insert %v s, start %v s", *r.CronFanoutInsertS, *r.CronFanoutStartS)
	}
	if rep.Diag.Fires < 1 || rep.Diag.Runs != 40 {
		t.Errorf("diagnostics: %+v", rep.Diag)
	}
}

func TestCheckRun(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(time.Millisecond)
	good := func() *connecthub.Run {
		return &connecthub.Run{ID: "r1", Status: connecthub.StatusSuccess, Attempt: 1, Node: "n1", StartedAt: &start, FinishedAt: &end}
	}
	tests := []struct {
		name    string
		mutate  func(*connecthub.Run)
		wantErr string
	}{
		{"complete record", func(*connecthub.Run) {}, ""},
		{"not finished", func(r *connecthub.Run) { r.Status = connecthub.StatusRunning }, "is RUNNING"},
		{"failed", func(r *connecthub.Run) { r.Status, r.Error = connecthub.StatusFailure, "boom" }, `"boom"`},
		{"retried", func(r *connecthub.Run) { r.Attempt = 2 }, "attempt 2"},
		{"other node", func(r *connecthub.Run) { r.Node = "n2" }, `node "n2"`},
		{"no start", func(r *connecthub.Run) { r.StartedAt = nil }, "started_at"},
		{"no finish", func(r *connecthub.Run) { r.FinishedAt = nil }, "finished_at"},
		{"time travel", func(r *connecthub.Run) { r.FinishedAt = ptr(start.Add(-time.Second)) }, "before it started"},
		{"log written", func(r *connecthub.Run) { r.LogSize = 3 }, "log of 3 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := good()
			tt.mutate(r)
			err := checkRun(r, "n1")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyRunsFailsOnUnfinishedOrMissingRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, err := newEnv(t.Context(), "sqlite", filepath.Join(dir, "c.db"), dir, nil, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	m := &measurement{e: e}
	job, err := m.createJob(t.Context(), "j", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.insertRuns(t.Context(), job, 3); err != nil {
		t.Fatal(err)
	}
	if err := verifyRuns(t.Context(), e.st, 3, "n", nil); err == nil || !strings.Contains(err.Error(), "is QUEUED") {
		t.Errorf("queued runs: err = %v, want a QUEUED verification error", err)
	}
	if err := verifyRuns(t.Context(), e.st, 3, "n", func(*connecthub.Run) error { return nil }); err == nil {
		t.Error("queued runs passed verification")
	}
}

// runParent runs the whole benchmark as the command line would.
func runParent(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = parentMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestParentSQLiteEndToEnd(t *testing.T) {
	t.Parallel()
	outFile := filepath.Join(t.TempDir(), "results.jsonl")
	profDir := filepath.Join(t.TempDir(), "prof")
	code, stdout, stderr := runParent(t, "-driver", "sqlite", "-n", "200", "-c", "4,16", "-repeat", "2",
		"-only", "insert,work", "-out", outFile, "-cpuprofile", profDir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var lines []Result
	for line := range strings.Lines(stdout) {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		lines = append(lines, r)
	}
	if len(lines) != 3 {
		t.Fatalf("want 3 JSON lines (insert, work c=4, work c=16), got %d:\n%s", len(lines), stdout)
	}
	if lines[0].Config != kindInsert || lines[1].Config != kindWork || *lines[1].C != 4 || *lines[2].C != 16 {
		t.Errorf("lines out of plan order: %+v", lines)
	}
	for _, want := range []string{"median of 2", "Targets (issue 3):", "Machine:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if n := strings.Count(stderr, "bench:   diag "); n != 6 {
		t.Errorf("want 6 repetitions reported on stderr, got %d:\n%s", n, stderr)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Errorf("-out holds %d lines, want 3:\n%s", n, b)
	}
	profiles, err := filepath.Glob(filepath.Join(profDir, "connecthub-sqlite-work-c4-rep1.*.pprof"))
	if err != nil || len(profiles) != 3 {
		t.Errorf("want cpu, allocs and allocs-base profiles of work c=4, got %v (%v)", profiles, err)
	}
}

func TestParentWithoutPostgres(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: connection refused at once.
	bad := "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5"
	t.Run("all falls back to SQLite", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runParent(t, "-driver", "all", "-pg-url", bad, "-n", "50", "-c", "2", "-repeat", "1", "-only", "insert")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stderr, "PostgreSQL is not available, running SQLite only") {
			t.Errorf("stderr does not say PostgreSQL was skipped:\n%s", stderr)
		}
		if strings.Contains(stdout, systemPostgres) || !strings.Contains(stdout, systemSQLite) {
			t.Errorf("want SQLite results only:\n%s", stdout)
		}
	})
	t.Run("postgres alone fails", func(t *testing.T) {
		t.Parallel()
		code, _, stderr := runParent(t, "-driver", "postgres", "-pg-url", bad)
		if code != 1 || !strings.Contains(stderr, "connect to PostgreSQL") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("bad usage", func(t *testing.T) {
		t.Parallel()
		if code, _, _ := runParent(t, "-driver", "oracle"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}

func TestChildMainReportsFailures(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := childMain([]string{"-system", "nope"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "unknown system") {
		t.Errorf("bad flags: exit %d, stderr %q", code, stderr.String())
	}
	// A SQLite path in a directory that does not exist cannot be opened.
	a := sqliteArgs(t, kindInsert, 10, 0)
	a.dsn = filepath.Join(a.dir, "missing", "c.db")
	stdout.Reset()
	stderr.Reset()
	if code := childMain(a.flags()[1:], &stdout, &stderr); code != 1 || stdout.Len() != 0 {
		t.Errorf("unopenable store: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func TestMeasurementsPostgres(t *testing.T) {
	testpg.Require(t)
	t.Parallel()
	adminURL := os.Getenv(testpg.EnvURL)
	if _, err := pgServerVersion(t.Context(), adminURL); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{kindWork, kindLatency} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			name, dbURL, err := pgCreateDatabase(t.Context(), adminURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := pgDropDatabase(context.Background(), adminURL, name); err != nil {
					t.Error(err)
				}
			})
			a := childArgs{
				spec: spec{System: systemPostgres, Kind: kind, N: 150, C: 8, Rate: 200},
				dsn:  dbURL, adminURL: adminURL, db: name, dir: t.TempDir(), timeout: time.Minute,
			}
			rep, err := runMeasurement(t.Context(), a, quietLog)
			if err != nil {
				t.Fatal(err)
			}
			d := rep.Diag
			// Each run is at least claimed and completed, in batches:
			// fewer transactions than runs would mean the count is wrong,
			// several per run would mean it counts the setup too.
			if d.PGXacts < 2 || d.PGXacts > 10*150 {
				t.Errorf("implausible transaction count %d for 150 runs", d.PGXacts)
			}
			if d.Extra["runs_updates_per_run"] < 2 {
				t.Errorf("each run is updated at least twice (claim, completion): %+v", d.Extra)
			}
		})
	}
}

func TestPGHelpersReportErrors(t *testing.T) {
	t.Parallel()
	bad := "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5"
	ctx := t.Context()
	if _, err := pgServerVersion(ctx, bad); err == nil {
		t.Error("pgServerVersion: want an error")
	}
	if _, _, err := pgCreateDatabase(ctx, bad); err == nil {
		t.Error("pgCreateDatabase: want an error")
	}
	if err := pgDropDatabase(ctx, bad, "x"); err == nil {
		t.Error("pgDropDatabase: want an error")
	}
	if _, err := pgXacts(ctx, bad, "x"); err == nil {
		t.Error("pgXacts: want an error")
	}
	if _, err := checkPostgres(ctx, ""); err == nil || !strings.Contains(err.Error(), "CONNECTHUB_TEST_POSTGRES_URL") {
		t.Errorf("no URL: err = %v", err)
	}
}
