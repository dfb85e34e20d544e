package deploytest

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the test reads and fills the SQLite file directly

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/store"
)

// sqliteEnv is the configuration of a single node on SQLite in dataDir,
// the default installation: database, key and admin token file all there.
func sqliteEnv(dataDir string) map[string]string {
	return map[string]string{
		"CONNECTHUB_DATA_DIR":    dataDir,
		"CONNECTHUB_LISTEN":      "127.0.0.1:0",
		"CONNECTHUB_ADMIN_TOKEN": testToken,
		"CONNECTHUB_TIMEZONE":    "UTC",
		"CONNECTHUB_WORKERS":     "2",
	}
}

// openSQLite opens the node's database file for the test's own checks;
// the node must not be running.
func openSQLite(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "connecthub.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryInt(t *testing.T, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// schemaVersion is the newest migration the database has applied.
func schemaVersion(t *testing.T, db *sql.DB) int64 {
	return queryInt(t, db, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`)
}

// copyRuns adds n copies of run id to the stopped node's database: a
// history as long as a busy installation's, written in the previous
// release's own schema, by testdata/fillruns (built without the race
// detector, under which SQLite is a hundred times slower).
func copyRuns(t *testing.T, dataDir, id string, n int) {
	t.Helper()
	bin := built(t, "fillruns", func(dir string) (string, string, error) {
		out := filepath.Join(dir, "fillruns")
		cmd := exec.Command(goTool(), "build", "-o", out, "./testdata/fillruns")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("%v\n%s", err, b)
		}
		return out, "", nil
	})
	if b, err := exec.Command(bin, filepath.Join(dataDir, "connecthub.db"), id, fmt.Sprint(n)).CombinedOutput(); err != nil {
		t.Fatalf("fillruns: %v\n%s", err, b)
	}
}

// runFacts are the fields of a run that an upgrade must keep.
type runFacts struct {
	ID, JobID, Status, Node, Error string
	Attempt, Attempts              int
	Finished                       string
}

func factsOf(r connecthub.Run) runFacts {
	f := runFacts{ID: r.ID, JobID: r.JobID, Status: string(r.Status), Node: r.Node, Error: r.Error,
		Attempt: r.Attempt, Attempts: len(r.Attempts)}
	if r.FinishedAt != nil {
		f.Finished = r.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	return f
}

// runJobAndWait asks for a run of job and waits until it is finished.
func runJobAndWait(t *testing.T, c *client.Client, job string) connecthub.Run {
	t.Helper()
	run, err := c.RunJob(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run "+run.ID+" to finish", 60*time.Second, func() bool {
		run, err = c.GetRun(t.Context(), run.ID)
		if err != nil {
			t.Fatal(err)
		}
		return run.Status.Terminal()
	})
	return *run
}

// upgradeJobs are the jobs the previous release writes: one with a secret,
// which only the right key file decrypts, and a plain one with a schedule
// that does not come due while the test runs (29 February at 03:00): a
// daily slot fired in the middle of the test and added a run to the
// counted history.
var upgradeJobs = []string{
	`{"id":"with-secret","handler":"noop","public_cfg":{"greeting":"hi"},"secret_cfg":{"password":"upgrade-secret-value"}}`,
	`{"id":"plain","handler":"sleep","public_cfg":{"seconds":0.05},"cron_expr":"0 3 29 2 *"}`,
}

// historyRuns is the size of the run history the upgrade carries.
const historyRuns = 100_000

// TestUpgradeFromPreviousRelease is the upgrade and the rollback of
// docs/operations.md, step by step: the previous release (built from this
// repository's history) creates a SQLite installation with jobs, a secret,
// runs and a worker token; the history is grown to 100,000 runs; the
// current binary's `connecthub migrate` upgrades it (timed) and its
// `serve` finds everything as it was and can still decrypt the secret.
// The previous release then refuses the upgraded database with a message
// that says to run a newer connecthub, and leaves it untouched.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	t.Parallel()
	old := previousBinary(t)
	data := t.TempDir()
	env := sqliteEnv(data)
	ctx := t.Context()

	// 1. The previous release writes the installation.
	prev := newProcess(t, old, env, "serve")
	prev.start()
	c := apiClient(t, prev.url(), nil)
	for _, j := range upgradeJobs {
		if _, err := c.CreateJob(ctx, json.RawMessage(j)); err != nil {
			t.Fatal(err)
		}
	}
	var before []runFacts
	for _, job := range []string{"with-secret", "plain", "with-secret"} {
		run := runJobAndWait(t, c, job)
		if run.Status != connecthub.StatusSuccess {
			t.Fatalf("run of %s on the previous release: %s %s", job, run.Status, run.Error)
		}
		before = append(before, factsOf(run))
	}
	if _, err := c.CreateToken(ctx, "w1", connecthub.ScopeWorker); err != nil {
		t.Fatal(err)
	}
	jobsBefore, err := c.ListJobs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	prev.terminate(60 * time.Second)
	db := openSQLite(t, data)
	oldSchema := schemaVersion(t, db)
	db.Close()
	fill := time.Now()
	copyRuns(t, data, before[1].ID, historyRuns-len(before))
	t.Logf("history grown to %d runs in %s", historyRuns, time.Since(fill).Round(time.Millisecond))

	// The backup the rollback restores, taken with the running release
	// before the upgrade.
	archive := filepath.Join(t.TempDir(), "before-upgrade.tar.gz")
	if code, out := newProcess(t, old, env, "backup", "--out", archive).run(); code != 0 {
		t.Fatalf("backup with the previous release: exit %d:\n%s", code, out)
	}

	// 2. The upgrade: migrate first, timed with the binary `make build`
	// makes (the test binary has the race detector), then serve.
	bin := currentBinary(t)
	start := time.Now()
	code, out := newProcess(t, bin, env, "migrate").run()
	took := time.Since(start)
	if code != 0 || !strings.Contains(out, "applied migration") {
		t.Fatalf("connecthub migrate: exit %d:\n%s", code, out)
	}
	t.Logf("upgrade of a database of %d runs from schema %d: `connecthub migrate` in %s:\n%s",
		historyRuns, oldSchema, took.Round(time.Millisecond), strings.TrimSpace(out))

	cur := newProcess(t, "", env, "serve")
	cur.start()
	t.Logf("serving %s after the upgrade", time.Since(start).Round(time.Millisecond))
	c = apiClient(t, cur.url(), nil)
	jobsAfter, err := c.ListJobs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobsAfter.Jobs) != len(jobsBefore.Jobs) {
		t.Errorf("%d jobs after the upgrade, %d before", len(jobsAfter.Jobs), len(jobsBefore.Jobs))
	}
	for _, want := range before {
		r, err := c.GetRun(ctx, want.ID)
		if err != nil {
			t.Fatalf("run %s after the upgrade: %v", want.ID, err)
		}
		if got := factsOf(*r); got != want {
			t.Errorf("run after the upgrade:\n got %+v\nwant %+v", got, want)
		}
	}
	// The key file the previous release generated still decrypts the
	// secret it stored.
	if run := runJobAndWait(t, c, "with-secret"); run.Status != connecthub.StatusSuccess {
		t.Errorf("run of the job with a secret after the upgrade: %s %s", run.Status, run.Error)
	}
	tokens, err := c.ListTokens(ctx)
	if err != nil || len(tokens) != 1 || tokens[0].Name != "w1" {
		t.Errorf("tokens after the upgrade: %+v, %v; want w1", tokens, err)
	}
	page, err := c.ListRuns(ctx, url.Values{"job_id": {"plain"}, "limit": {"1"}})
	if err != nil || len(page.Runs) != 1 {
		t.Errorf("listing the grown history: %+v, %v", page, err)
	}
	cur.terminate(60 * time.Second)
	t.Logf("checked and stopped %s after the upgrade", time.Since(start).Round(time.Millisecond))

	db = openSQLite(t, data)
	newSchema := schemaVersion(t, db)
	runs := queryInt(t, db, `SELECT count(*) FROM runs`)
	if runs != historyRuns+1 {
		t.Errorf("%d runs after the upgrade, want %d", runs, historyRuns+1)
	}
	var by string
	if err := db.QueryRow(`SELECT value FROM meta WHERE name = ?`, store.MetaSchemaWrittenBy).Scan(&by); err != nil || by != currentVersion {
		t.Errorf("meta %s = %q, %v; want %q, the version of the binary that migrated", store.MetaSchemaWrittenBy, by, err, currentVersion)
	}
	db.Close()

	// 3. Rolling back the binary without restoring the database: the
	// previous release refuses to start, and changes nothing.
	code, out = newProcess(t, old, env, "serve").run()
	if code == 0 || !strings.Contains(out, fmt.Sprintf("at version %d, newer than this connecthub supports (%d); run a newer connecthub", newSchema, oldSchema)) {
		t.Errorf("the previous release on the upgraded database: exit %d, want a refusal naming the schema versions:\n%s", code, out)
	}
	db = openSQLite(t, data)
	if v, n := schemaVersion(t, db), queryInt(t, db, `SELECT count(*) FROM runs`); v != newSchema || n != runs {
		t.Errorf("after the refused start: schema %d, %d runs; want %d, %d", v, n, newSchema, runs)
	}
	db.Close()
	cur = newProcess(t, "", env, "serve")
	cur.start()
	cur.terminate(60 * time.Second)

	// 4. The rollback: the previous release restores the backup taken
	// before the upgrade and runs again, on the data of that moment.
	if code, out := newProcess(t, old, env, "restore", "--in", archive, "--force").run(); code != 0 {
		t.Fatalf("restore with the previous release: exit %d:\n%s", code, out)
	}
	prev = newProcess(t, old, env, "serve")
	prev.start()
	c = apiClient(t, prev.url(), nil)
	for _, want := range before {
		r, err := c.GetRun(ctx, want.ID)
		if err != nil || factsOf(*r) != want {
			t.Errorf("run %s after the rollback: %+v, %v; want %+v", want.ID, r, err, want)
		}
	}
	if run := runJobAndWait(t, c, "with-secret"); run.Status != connecthub.StatusSuccess {
		t.Errorf("run of the job with a secret after the rollback: %s %s", run.Status, run.Error)
	}
	prev.terminate(60 * time.Second)
	db = openSQLite(t, data)
	if v, n := schemaVersion(t, db), queryInt(t, db, `SELECT count(*) FROM runs`); v != oldSchema || n != historyRuns+1 {
		t.Errorf("after the rollback: schema %d, %d runs; want %d, %d", v, n, oldSchema, historyRuns+1)
	}
}

// TestNewerSchemaRefusalNamesTheVersion checks this binary's refusal of a
// database a newer connecthub migrated: it names the version that wrote
// the schema when the database recorded it (every version from this one
// on records it), and says to run a newer connecthub otherwise.
func TestNewerSchemaRefusalNamesTheVersion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, writtenBy, want string
	}{
		{"recorded", "v9.9.9", "this database was written by connecthub v9.9.9 (schema version %d); this connecthub (%s) knows schema versions up to %d and must not change it: run connecthub v9.9.9 or later"},
		{"not recorded", "", "this database was written by a newer connecthub (schema version %d); this connecthub (%s) knows schema versions up to %d and must not change it: run a newer connecthub (the version that migrated it, or a later one)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			env := sqliteEnv(data)
			if code, out := newProcess(t, "", env, "migrate").run(); code != 0 {
				t.Fatalf("migrate: exit %d: %s", code, out)
			}
			db := openSQLite(t, data)
			latest := schemaVersion(t, db)
			if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, latest+1); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`DELETE FROM meta WHERE name = ?`, store.MetaSchemaWrittenBy); err != nil {
				t.Fatal(err)
			}
			if tt.writtenBy != "" {
				if _, err := db.Exec(`INSERT INTO meta (name, value) VALUES (?, ?)`, store.MetaSchemaWrittenBy, tt.writtenBy); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			want := fmt.Sprintf(tt.want, latest+1, connecthub.Version, latest)
			for _, cmd := range []string{"serve", "migrate"} {
				code, out := newProcess(t, "", env, cmd).run()
				if code == 0 || !strings.Contains(out, want) {
					t.Errorf("%s on a newer schema: exit %d, want a refusal with\n%s\ngot:\n%s", cmd, code, want, out)
				}
			}
			db = openSQLite(t, data)
			if v := schemaVersion(t, db); v != latest+1 {
				t.Errorf("schema after the refusals: %d, want %d untouched", v, latest+1)
			}
		})
	}
}
