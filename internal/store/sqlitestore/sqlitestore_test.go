package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(removingTemplate{m})
}

// removingTemplate runs the tests, then removes the migrated template.
type removingTemplate struct{ m *testing.M }

func (r removingTemplate) Run() int {
	code := r.m.Run()
	if template.dir != "" {
		_ = os.RemoveAll(template.dir)
	}
	return code
}

// template is a database that every migration ran on, made once per test
// binary: a store opened on a copy of it is the same as one opened on a new
// file, without running the migrations again, which under the race
// detector cost seconds per store and so most of the package's time. The
// migrations themselves are tested on new files (TestMigrate...).
var template struct {
	once      sync.Once
	dir, path string
	err       error
}

// migratedTemplate returns the template's path, making it on first use.
func migratedTemplate() (string, error) {
	template.once.Do(func() {
		template.dir, template.err = os.MkdirTemp("", "sqlitestore-template-")
		if template.err != nil {
			return
		}
		ctx := context.Background()
		s, err := Open(ctx, filepath.Join(template.dir, "migrated.db"), Options{})
		if err != nil {
			template.err = err
			return
		}
		template.path = filepath.Join(template.dir, "template.db")
		template.err = errors.Join(s.Backup(ctx, template.path), s.Close())
	})
	return template.path, template.err
}

// openTest opens a store on a fresh file in the test's temp dir: a copy of
// the migrated template.
func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "connecthub.db")
	src, err := migratedTemplate()
	if err != nil {
		t.Fatalf("migrated template: %v", err)
	}
	b, err := os.ReadFile(src)
	if err == nil {
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		t.Fatalf("copy the migrated template: %v", err)
	}
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) store.Store {
		s, _ := openTest(t)
		return s
	})
}

var t0 = time.Date(2031, 3, 14, 9, 26, 53, 0, time.UTC)

func testJob(id string) *connecthub.Job {
	return &connecthub.Job{
		ID: id, Enabled: true, Timezone: "UTC", Handler: "noop", PublicCfg: []byte(`{}`),
		MaxAttempts: 1, Concurrency: connecthub.ConcurrencyAllow, Misfire: connecthub.MisfireOnce,
		Queue: connecthub.DefaultQueue, CreatedAt: t0, UpdatedAt: t0,
	}
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.db")
	applied, err := Migrate(t.Context(), path)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if len(applied) == 0 || applied[0] != 1 {
		t.Fatalf("first Migrate applied %v, want versions from 1", applied)
	}
	again, err := Migrate(t.Context(), path)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing to apply", again, err)
	}
	// Open migrates too, and twice is harmless, with the data kept.
	for i := range 2 {
		s, err := Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if i == 0 {
			if err := s.JobCreate(t.Context(), testJob("kept")); err != nil {
				t.Fatal(err)
			}
		} else if _, err := s.JobGet(t.Context(), "kept"); err != nil {
			t.Fatalf("job lost on reopen: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	if _, err := s.w.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(t.Context(), path); !connecthub.IsKind(err, connecthub.KindUnavailable) {
		t.Fatalf("Migrate on a newer schema = %v, want an unavailable error", err)
	}
	if s, err := Open(t.Context(), path, Options{}); err == nil {
		s.Close()
		t.Fatal("Open succeeded on a newer schema")
	}
}

func TestOddPath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a dir#with %20 odd chars")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "db 100%.sqlite")
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer s.Close()
	if err := s.JobCreate(t.Context(), testJob("j")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at the path given: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	for _, tt := range []struct {
		db     string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "foreign_keys", "1"},
		{"writer", "synchronous", "1"}, // NORMAL
		{"writer", "busy_timeout", "10000"},
		{"writer", "cache_size", "-4096"},
		{"reader", "journal_mode", "wal"},
		{"reader", "foreign_keys", "1"},
		{"reader", "query_only", "1"},
		{"reader", "busy_timeout", "10000"},
		{"reader", "cache_size", "-16384"},
	} {
		db := s.w
		if tt.db == "reader" {
			db = s.r
		}
		var got string
		if err := db.Get(&got, "PRAGMA "+tt.pragma); err != nil {
			t.Fatalf("%s PRAGMA %s: %v", tt.db, tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("%s PRAGMA %s = %s, want %s", tt.db, tt.pragma, got, tt.want)
		}
	}
	if _, err := s.r.Exec(`DELETE FROM jobs`); err == nil {
		t.Error("a reader connection could write")
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "o.db")
	s, err := Open(t.Context(), path, Options{BusyTimeout: 1500 * time.Millisecond, ReadConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ms int
	if err := s.w.Get(&ms, "PRAGMA busy_timeout"); err != nil || ms != 1500 {
		t.Errorf("busy_timeout = %d, %v; want 1500", ms, err)
	}
	if n := s.r.Stats().MaxOpenConnections; n != 2 {
		t.Errorf("reader pool size = %d, want 2", n)
	}
}

func TestOpenBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, tt := range map[string]struct {
		path string
		opts Options
		kind connecthub.Kind
	}{
		"empty path":       {"", Options{}, connecthub.KindInvalid},
		"query in path":    {filepath.Join(dir, "x.db?mode=ro"), Options{}, connecthub.KindInvalid},
		"uri":              {"file:" + filepath.Join(dir, "u.db"), Options{}, connecthub.KindInvalid},
		"negative timeout": {filepath.Join(dir, "y.db"), Options{BusyTimeout: -time.Second}, connecthub.KindInvalid},
		"negative readers": {filepath.Join(dir, "z.db"), Options{ReadConns: -1}, connecthub.KindInvalid},
		"missing dir":      {filepath.Join(dir, "no", "such", "dir", "x.db"), Options{}, connecthub.KindUnavailable},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.path, tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !connecthub.IsKind(err, tt.kind) {
				t.Fatalf("Open = %v (%s), want a %s error", err, connecthub.ErrorKind(err), tt.kind)
			}
		})
	}
}

// TestCrashSafety copies the database file and its WAL while the store is
// still open, as a crash (or power cut after the OS wrote its buffers)
// would leave them, and checks that the copy opens with every committed
// write, recovered from the WAL.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	const n = 50
	for i := range n {
		if err := s.JobCreate(t.Context(), testJob(fmt.Sprintf("job-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	wal, err := os.Stat(path + "-wal")
	if err != nil || wal.Size() == 0 {
		t.Fatalf("the writes are not in the WAL (stat: %v); the test would prove nothing", err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	copyFile(t, path, crashed)
	copyFile(t, path+"-wal", crashed+"-wal")

	c, err := Open(t.Context(), crashed, Options{})
	if err != nil {
		t.Fatalf("Open after crash: %v", err)
	}
	defer c.Close()
	jobs, _, err := c.JobList(t.Context(), store.JobListParams{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != n {
		t.Fatalf("after crash recovery %d jobs, want %d", len(jobs), n)
	}
	var check string
	if err := c.r.Get(&check, "PRAGMA integrity_check"); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBackup(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	job := testJob("backed-up")
	if err := s.JobCreate(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	run := connecthub.NewRun(job, connecthub.TriggerManual, t0, t0, "")
	if err := s.RunInsert(t.Context(), []*connecthub.Run{run}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(t.Context(), dest); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	// A later write is not in the snapshot.
	if err := s.JobCreate(t.Context(), testJob("after")); err != nil {
		t.Fatal(err)
	}

	b, err := Open(t.Context(), dest, Options{})
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	defer b.Close()
	if _, err := b.JobGet(t.Context(), "backed-up"); err != nil {
		t.Errorf("backup lacks the job: %v", err)
	}
	if got, err := b.RunGet(t.Context(), run.ID); err != nil || got.JobID != "backed-up" {
		t.Errorf("backup lacks the run: %v", err)
	}
	if _, err := b.JobGet(t.Context(), "after"); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Errorf("backup has a job written after it: %v", err)
	}

	// Never overwrite.
	err = s.Backup(t.Context(), dest)
	if !connecthub.IsKind(err, connecthub.KindConflict) {
		t.Errorf("Backup onto an existing file = %v, want a conflict", err)
	}
	if err := s.Backup(t.Context(), ""); !connecthub.IsKind(err, connecthub.KindInvalid) {
		t.Errorf("Backup to \"\" = %v, want invalid", err)
	}
	if err := s.Backup(t.Context(), filepath.Join(t.TempDir(), "no", "dir", "b.db")); !connecthub.IsKind(err, connecthub.KindUnavailable) {
		t.Errorf("Backup into a missing directory = %v, want unavailable", err)
	}
}

// TestConcurrentWritersNeverBusy hammers one store from many goroutines
// with every kind of write, readers alongside, and fails on any error: the
// single writer connection must make SQLITE_BUSY impossible.
func TestConcurrentWritersNeverBusy(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ctx := t.Context()
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			job := testJob(fmt.Sprintf("job-%d", w))
			if err := s.JobCreate(ctx, job); err != nil {
				errs <- err
				return
			}
			node := fmt.Sprintf("node-%d", w)
			for i := range rounds {
				now := t0.Add(time.Duration(i) * time.Second)
				run := connecthub.NewRun(job, connecthub.TriggerManual, now, now, "")
				if err := s.RunInsert(ctx, []*connecthub.Run{run}); err != nil {
					errs <- err
					continue
				}
				claimed, err := s.RunClaim(ctx, store.RunClaimParams{Node: node, Queues: []string{"default"}, Max: 2, LeaseTTL: time.Minute, Now: now})
				if err != nil {
					errs <- err
					continue
				}
				var outcomes []store.RunOutcome
				for _, r := range claimed {
					if err := s.RunLogAppend(ctx, r.ID, "line\n"); err != nil {
						errs <- err
					}
					outcomes = append(outcomes, store.RunOutcome{ID: r.ID, Node: node, Status: connecthub.StatusSuccess, Now: now})
				}
				if _, err := s.RunComplete(ctx, outcomes); err != nil {
					errs <- err
				}
				if _, err := s.JobUpdate(ctx, job.ID, func(j *connecthub.Job) error { j.Priority++; return nil }); err != nil {
					errs <- err
				}
				if _, _, err := s.RunList(ctx, store.RunListParams{JobID: job.ID, Limit: 10}); err != nil {
					errs <- err
				}
				if _, err := s.Stats(ctx, now); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if sqliteCode(err)&0xff == 5 || connecthub.IsKind(err, connecthub.KindUnavailable) {
			t.Errorf("busy: %v (%v)", err, errors.Unwrap(err))
		} else {
			t.Errorf("error: %v (%v)", err, errors.Unwrap(err))
		}
	}
	st, err := s.Stats(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, n := range st.Runs {
		total += n
	}
	if total != workers*rounds {
		t.Errorf("%d runs recorded, want %d", total, workers*rounds)
	}
}

// TestTwoStoresOneFile checks that two stores on one file (two processes,
// in effect) wait for each other through busy_timeout instead of failing.
func TestTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	a, path := openTest(t)
	b, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			for k := range 100 {
				if err := s.JobCreate(t.Context(), testJob(fmt.Sprintf("s%d-%d", i, k))); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("write: %v (%v)", err, errors.Unwrap(err))
	}
}

// TestQueryPlans guards the plans of the queries that must stay fast as
// the runs table grows: each must search the index named, and none may scan
// the runs table.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	tests := []struct {
		name, query, index string
		args               []any
	}{
		{"claim, one queue", claimSQL(1, 0, 0), "runs_claim", []any{"n", 1, 1, 10, "q"}},
		{"claim, one queue, handlers", claimSQL(1, 2, 0), "runs_claim", []any{"n", 1, 1, 10, "q", "h1", "h2"}},
		{"claim, one queue, handlers and prefixes", claimSQL(1, 1, 2), "runs_claim", []any{"n", 1, 1, 10, "q", "h1", "py:", "js:"}},
		{"claim, three queues", claimSQL(3, 0, 0), "runs_claim", []any{"n", 1, 1, 10, "q1", "q2", "q3"}},
		{"complete batch", completeBatchSQL(4), "sqlite_autoindex_runs_1", make([]any, 36)},
		{"heartbeat", heartbeatSQL(4), "sqlite_autoindex_runs_1", make([]any, 11)},
		{"chain edges: is any job chained", chainEdgesSQL, "jobs_chained", []any{`["j"]`}},
		{"chain edges: the jobs", chainEdgesSQL, "sqlite_autoindex_jobs_1", []any{`["j"]`}},
		{"dead nodes' runs", nodeRunsSQL(3), "runs_lease", []any{"n1", "n2", "n3"}},
		{"fire active check", fireActiveSQL, "runs_active", []any{"j"}},
		{"fire slot check", fireSlotTakenSQL, "runs_cron_slot", []any{"j", 1}},
		{"active count", activeCountSQL, "runs_active", []any{"j"}},
		{"stats queued", statsQueuedSQL, "runs_claim", nil},
		{"stats running", statsRunningSQL, "runs_lease", nil},
		{"last run", lastRunSQL, "runs_job_finished", []any{"j"}},
		{"durations", durationsSQL, "runs_job_finished", []any{"j", 20}},
		{"stats queues", statsQueuesSQL, "runs_claim", []any{1}},
		{"list failures", `SELECT id FROM runs WHERE status IN (?) AND ` + finishedCondition + ` AND id < ? ORDER BY id DESC LIMIT 10`, "runs_finished", []any{"FAILURE", "x"}},
	}
	for _, tt := range tests {
		rows, err := s.w.Query("EXPLAIN QUERY PLAN "+tt.query, tt.args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		usesIndex := false
		for _, d := range plan {
			if strings.Contains(d+" ", "INDEX "+tt.index+" ") {
				usesIndex = true
			}
			if d == "SCAN runs" {
				t.Errorf("%s scans the runs table:\n%s", tt.name, strings.Join(plan, "\n"))
			}
		}
		if !usesIndex {
			t.Errorf("%s does not use %s:\n%s", tt.name, tt.index, strings.Join(plan, "\n"))
		}
	}
}
