package sqlitestore

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/connecthub/connecthub"
)

// TestWritesBuildNoTablePerRow checks the compiled programs of the queue's
// hot writes (a run insert, a claim, a batched completion): SQLite builds
// an ephemeral table for an IN list of more than two constants, and in a
// CHECK constraint or a partial index's WHERE it builds it again for every
// row written. Before migration 21 a claim built five per run. What is
// left is built once per statement: the claim's picked rows (the
// subquery's and the update's list), the completion's VALUES, and
// RETURNING's buffer.
// A row trigger's program runs for every row too: neither calls one
// (since migration 25 the completion records alert events itself).
func TestWritesBuildNoTablePerRow(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	tests := []struct {
		name               string
		query              string
		ephemeral, program int
	}{
		{"insert", insertRunsSQL(1), 0, 0},
		{"claim", claimSQL(1, 0, 0), 3, 0},
		{"complete batch", completeBatchSQL(4), 2, 0},
	}
	for _, tt := range tests {
		rows, err := s.w.QueryContext(t.Context(), "EXPLAIN "+tt.query, make([]any, 64)...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		counts := map[string]int{}
		var listing []string
		for rows.Next() {
			var (
				addr, p1, p2, p3, p5 int64
				op                   string
				p4, comment          any
			)
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			counts[op]++
			if op == "OpenEphemeral" || op == "Program" {
				listing = append(listing, strings.TrimSpace(strings.Join([]string{op, toString(p4)}, " ")))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if counts["OpenEphemeral"] > tt.ephemeral || counts["Program"] > tt.program {
			t.Errorf("%s opens %d ephemeral tables (want at most %d) and calls %d trigger programs (want at most %d): %s",
				tt.name, counts["OpenEphemeral"], tt.ephemeral, counts["Program"], tt.program, strings.Join(listing, "; "))
		}
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(v)
	case string:
		return v
	default:
		return ""
	}
}

// TestMigration21KeepsRowsAndIndexes runs migration 21 down and up again
// on a database holding runs of every status: the rewritten constraint and
// index texts must describe the stored rows and index entries exactly
// (integrity_check compares each partial index with its WHERE), and the
// constraints must still refuse what they refused.
func TestMigration21KeepsRowsAndIndexes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "connecthub.db")
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	job := testJob("j")
	if err := s.JobCreate(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	var runs []*connecthub.Run
	for _, st := range []connecthub.RunStatus{connecthub.StatusQueued, connecthub.StatusRunning, connecthub.StatusSuccess,
		connecthub.StatusFailure, connecthub.StatusCanceled, connecthub.StatusSkipped} {
		r := connecthub.NewRun(job, connecthub.TriggerAPI, t0, t0, "")
		r.Status = st
		if st.Terminal() {
			fin := t0
			r.StartedAt, r.FinishedAt = &fin, &fin
		}
		if st == connecthub.StatusRunning {
			start, lease := t0, t0.Add(60e9)
			r.Node, r.StartedAt, r.LeaseExpiresAt = "n", &start, &lease
		}
		runs = append(runs, r)
	}
	if err := s.RunInsert(t.Context(), runs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, p := migrationProvider(t, path)
	check := func(when string) {
		t.Helper()
		var res string
		if err := db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Fatalf("%s: integrity_check = %q, %v", when, res, err)
		}
		if _, err := db.ExecContext(t.Context(), `UPDATE runs SET status = 'DONE' WHERE status = 'SUCCESS'`); err == nil ||
			!strings.Contains(err.Error(), "CHECK") {
			t.Fatalf("%s: an unknown status was accepted or refused for another reason: %v", when, err)
		}
		if _, err := db.ExecContext(t.Context(), `UPDATE runs SET "trigger" = 'webhook'`); err == nil ||
			!strings.Contains(err.Error(), "CHECK") {
			t.Fatalf("%s: an unknown trigger was accepted or refused for another reason: %v", when, err)
		}
		var finished int
		if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM runs INDEXED BY runs_finished WHERE status = 'FAILURE' AND `+
			finishedCondition).Scan(&finished); err != nil || finished != 1 {
			t.Fatalf("%s: FAILURE runs through runs_finished = %d, %v; want 1", when, finished, err)
		}
	}
	check("after migration 21")
	if _, err := p.DownTo(t.Context(), 18); err != nil {
		t.Fatalf("migration 21 down: %v", err)
	}
	var res string
	if err := db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("after migration 21 down: integrity_check = %q, %v", res, err)
	}
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatalf("migration 21 up again: %v", err)
	}
	check("after migration 21 again")
}

// migrationProvider opens the database file at path without migrating it
// and returns it (closed when the test ends) with a goose provider of the
// driver's migrations, for tests that migrate step by step.
func migrationProvider(t *testing.T, path string) (*sql.DB, *goose.Provider) {
	t.Helper()
	db, err := sql.Open(driverName, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return db, p
}
