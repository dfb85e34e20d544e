package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHistoryKeptSQLite builds a small kept history and times the reads
// over it; then a measurement of the same size finds it, and one of
// another size empties it to build it again.
func TestHistoryKeptSQLite(t *testing.T) {
	t.Parallel()
	keep := filepath.Join(t.TempDir(), "kept.db")
	kept := func(n int) childArgs {
		a := sqliteArgs(t, kindHistory, n, 0)
		a.dsn, a.keyPath = keep, keep+".fernet.key"
		return a
	}
	rep, err := runMeasurement(t.Context(), kept(300), quietLog)
	if err != nil {
		t.Fatal(err)
	}
	if _, built := rep.Diag.Extra["build_s"]; !built || rep.Diag.Runs != 300 || rep.Diag.Extra["dashboard_ms"] <= 0 {
		t.Errorf("first run: diag %+v, want a build and the reads", rep.Diag)
	}

	steps := []struct {
		name string
		n    int
		jobs int // what keptHistory returns: the kept jobs, or none
		runs int64
	}{
		{"same size reuses", 300, historyJobs, 300},
		{"another size empties it", 200, 0, 0},
	}
	for _, s := range steps {
		a := kept(s.n)
		e, err := newEnv(t.Context(), a.driver(), a.dsn, a.dir, nil, quietLog)
		if err != nil {
			t.Fatal(err)
		}
		m := &measurement{a: a, e: e}
		jobs, err := m.keptHistory(t.Context())
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		st, err := m.e.st.Stats(t.Context(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var runs int64
		for _, n := range st.Runs {
			runs += n
		}
		if len(jobs) != s.jobs || runs != s.runs || (s.jobs == 0 && st.Jobs != 0) {
			t.Errorf("%s: %d jobs returned, %d jobs and %d runs in the database; want %d jobs and %d runs", s.name, len(jobs), st.Jobs, runs, s.jobs, s.runs)
		}
		if _, err := os.Stat(a.keyPath); (err == nil) != (s.jobs > 0) {
			t.Errorf("%s: the key file: %v", s.name, err)
		}
		if err := m.e.close(); err != nil {
			t.Fatal(err)
		}
	}
}
