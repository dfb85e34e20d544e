package dbadmin

import (
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/config"
)

// TestMigrateAndRebuildStats: Migrate creates a SQLite database in a data
// directory that does not exist yet and applies every migration once; a
// second call has nothing to do; RebuildStats counts the empty runs
// table.
func TestMigrateAndRebuildStats(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DataDir = t.TempDir() + "/new/data"
	cfg.DBURL, cfg.FernetKeyPath = "", ""
	cfg.WithDefaults()
	applied, err := Migrate(t.Context(), cfg)
	if err != nil || len(applied) == 0 {
		t.Fatalf("first Migrate: %v, applied %v", err, applied)
	}
	if again, err := Migrate(t.Context(), cfg); err != nil || len(again) != 0 {
		t.Fatalf("second Migrate: %v, applied %v; want nothing", err, again)
	}
	s, took, err := RebuildStats(t.Context(), cfg)
	if err != nil || took <= 0 {
		t.Fatalf("RebuildStats: %v (took %s)", err, took)
	}
	for _, st := range connecthub.AllStatuses {
		if s.Runs[st] != 0 {
			t.Errorf("%s: %d runs in an empty database", st, s.Runs[st])
		}
	}
}

// TestRedactURL: the source of an import's batch never carries the old
// database's credentials or query.
func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://old:secret@db:5432/connecthub?sslmode=require": "postgres://db:5432/connecthub",
		"sqlite:///opt/old/connecthub.db":                          "sqlite:///opt/old/connecthub.db",
		"postgres://%zz":                                           "python import",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
