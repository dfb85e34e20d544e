package sqlitestore

import (
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
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
// A row trigger's program runs for every row too: a claim calls none, a
// completion one (the alert trigger).
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
		{"complete batch", completeBatchSQL(4), 2, 1},
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

// TestAlertTriggerPaths runs each of the driver's statements that change a
// run's status on a run in the state it applies to, with every alert
// enabled, and checks the events the alert trigger records: the trigger
// is called only by statements that set finished_at, available_at or
// error (so that claims do not call it), and this keeps every other path
// recording what the status triggers before migration 21 recorded.
func TestAlertTriggerPaths(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ctx := t.Context()
	job := testJob("j")
	if err := s.JobCreate(ctx, job); err != nil {
		t.Fatal(err)
	}
	for i, ev := range []string{"failure", "worker_lost"} {
		if _, err := s.w.ExecContext(ctx, `INSERT INTO alert_rules (id, name, event, created_at, updated_at) VALUES (?, ?, ?, 0, 0)`,
			fmt.Sprintf("rule%d", i), ev, ev); err != nil {
			t.Fatal(err)
		}
	}
	now := micros(t0)
	tests := []struct {
		name   string
		status connecthub.RunStatus // the run's status before
		errBy  string               // the run's error before
		query  string
		args   func(id string) []any
		want   []string
	}{
		{"claim", connecthub.StatusQueued, "", claimSQL(1, 0, 0),
			func(string) []any { return []any{"n", now + 60e6, now, 1, connecthub.DefaultQueue} }, nil},
		{"claim of a run once lost", connecthub.StatusQueued, "worker lost", claimSQL(1, 0, 0),
			func(string) []any { return []any{"n", now + 60e6, now, 1, connecthub.DefaultQueue} }, nil},
		{"success", connecthub.StatusRunning, "", completeTerminalSQL,
			func(id string) []any { return []any{"SUCCESS", now, "", "", "", nil, id, "n", 0} }, []string{"run_end"}},
		{"batched failure", connecthub.StatusRunning, "", completeBatchSQL(1),
			func(id string) []any { return []any{id, "FAILURE", now, "", "boom", "", nil, "n", 0} }, []string{"run_end"}},
		{"failure, worker lost", connecthub.StatusRunning, "", completeTerminalSQL,
			func(id string) []any { return []any{"FAILURE", now, "", "worker lost", "", nil, id, "n", 0} }, []string{"worker_lost", "run_end"}},
		{"retry, worker lost", connecthub.StatusRunning, "", completeRetrySQL,
			func(id string) []any { return []any{"[]", now, "", "worker lost", "", now, id} }, []string{"worker_lost"}},
		{"retry", connecthub.StatusRunning, "", completeRetrySQL,
			func(id string) []any { return []any{"[]", now, "", "boom", "", now, id} }, nil},
		{"hand-back", connecthub.StatusRunning, "", completeHandBackSQL,
			func(id string) []any { return []any{now, id} }, nil},
		{"hand-back of a run once lost", connecthub.StatusRunning, "worker lost", completeHandBackSQL,
			func(id string) []any { return []any{now, id} }, []string{"worker_lost"}},
		{"cancel of queued runs", connecthub.StatusQueued, "", fireCancelQueuedSQL,
			func(string) []any { return []any{now, "replaced", "j", ""} }, nil},
	}
	for _, tt := range tests {
		if _, err := s.w.ExecContext(ctx, `UPDATE runs SET status = 'CANCELED', finished_at = 0 WHERE status IN ('QUEUED', 'RUNNING')`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, `DELETE FROM alert_events`); err != nil {
			t.Fatal(err)
		}
		r := connecthub.NewRun(job, connecthub.TriggerAPI, t0, t0, "")
		r.Status, r.Error = tt.status, tt.errBy
		if tt.status == connecthub.StatusRunning {
			start, lease := t0, t0.Add(60e9)
			r.Node, r.StartedAt, r.LeaseExpiresAt = "n", &start, &lease
		}
		if err := s.RunInsert(ctx, []*connecthub.Run{r}); err != nil {
			t.Fatal(err)
		}
		res, err := s.w.ExecContext(ctx, tt.query, tt.args(r.ID)...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s changed %d runs, want 1", tt.name, n)
		}
		var got []string
		if err := s.w.SelectContext(ctx, &got, `SELECT kind FROM alert_events WHERE subject = ? ORDER BY seq`, r.ID); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s recorded %q, want %q", tt.name, got, tt.want)
		}
	}
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
