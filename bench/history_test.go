package main

import (
	"path/filepath"
	"testing"
)

// TestHistoryKeptSQLite builds a small kept history, reuses it, and
// builds it again when another size is asked for.
func TestHistoryKeptSQLite(t *testing.T) {
	t.Parallel()
	keep := filepath.Join(t.TempDir(), "kept.db")
	steps := []struct {
		name  string
		n     int
		built bool
	}{
		{"first run builds", 300, true},
		{"same size reuses", 300, false},
		{"another size builds again", 200, true},
	}
	for _, s := range steps {
		a := sqliteArgs(t, kindHistory, s.n, 0)
		a.dsn, a.keyPath = keep, keep+".fernet.key"
		rep, err := runMeasurement(t.Context(), a, quietLog)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if _, built := rep.Diag.Extra["build_s"]; built != s.built {
			t.Errorf("%s: built = %v, want %v (diag %+v)", s.name, built, s.built, rep.Diag.Extra)
		}
		if rep.Diag.Runs != int64(s.n) || rep.Diag.Extra["dashboard_ms"] <= 0 {
			t.Errorf("%s: diag %+v", s.name, rep.Diag)
		}
	}
}
