package pyimport_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/pyimport"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/testenv"
)

// oldInstall is an old install's database made in Go: job_logs without
// the later columns (no celery_task_id, attempt, created_at or
// snapshot_params), so the import must discover what is there.
type oldInstall struct {
	url string
	db  *sql.DB
}

func newOldInstall(t *testing.T) *oldInstall {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o := &oldInstall{url: "sqlite://" + path, db: db}
	o.exec(t, `CREATE TABLE jobs (id VARCHAR PRIMARY KEY, enabled BOOLEAN, cron_expr VARCHAR, handler_path VARCHAR,
		public_cfg TEXT, last_run_at DATETIME)`)
	o.exec(t, `CREATE TABLE job_logs (id INTEGER PRIMARY KEY, job_id VARCHAR, status VARCHAR, message TEXT,
		traceback TEXT, run_log TEXT, started_at DATETIME, finished_at DATETIME)`)
	o.exec(t, `INSERT INTO jobs VALUES ('daily', 1, '0 2 * * *', 'extensions.daily:Job', '{"a": 1}', '2031-03-10 02:00:00')`)
	o.exec(t, `INSERT INTO job_logs VALUES
		(1, 'daily', 'SUCCESS', 'ok', NULL, 'line one', '2031-03-08 02:00:01', '2031-03-08 02:00:03'),
		(2, 'daily', 'FAILURE', 'bad', 'Traceback (most recent call last):
ValueError: no', NULL, '2031-03-09 02:00:01', '2031-03-09 02:00:02'),
		(3, 'daily', 'PENDING', NULL, NULL, NULL, NULL, NULL),
		(4, 'gone', 'SUCCESS', NULL, NULL, NULL, '2031-03-09 05:00:00', '2031-03-09 05:00:01')`)
	return o
}

func (o *oldInstall) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := o.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// importer runs imports of an old install into one ConnectHub store.
type importer struct {
	t    *testing.T
	old  *oldInstall
	st   *sqlitestore.Store
	keys *secret.Keyring
	now  time.Time
}

func (im *importer) run(dryRun bool, since *time.Time) *pyimport.Report {
	im.t.Helper()
	ctx := testenv.Context(im.t)
	src, err := pyimport.OpenSource(ctx, im.old.url, false)
	if err != nil {
		im.t.Fatal(err)
	}
	defer src.Close()
	rep, err := pyimport.Run(ctx, pyimport.Config{
		Source: src, Mapping: pyimport.NewMapping(nil), Store: im.st, History: true, Since: since, DryRun: dryRun,
		RunLogMaxBytes: 1 << 16, Service: service.Config{Store: im.st, Keys: im.keys, Now: func() time.Time { return im.now }},
	})
	if err != nil {
		im.t.Fatal(err)
	}
	return rep
}

func TestImportUpdatesAndKeepsHistoryOnce(t *testing.T) {
	t.Parallel()
	key, _ := secret.GenerateKey()
	keys, err := secret.Parse(key, "test")
	if err != nil {
		t.Fatal(err)
	}
	im := &importer{t: t, old: newOldInstall(t), st: testenv.SQLite(t), keys: keys,
		now: time.Date(2031, 3, 10, 12, 0, 0, 0, time.UTC)}
	ctx := testenv.Context(t)
	action := func(rep *pyimport.Report) string { return rep.Jobs[0].Action }

	since := time.Date(2031, 3, 9, 0, 0, 0, 0, pyimport.Shanghai)
	rep := im.run(false, &since)
	if action(rep) != "create" || rep.History.Inserted != 1 || rep.History.BeforeSince != 2 || rep.History.OtherJobs != 1 {
		t.Fatalf("first import: %s, history %+v; want create, 1 run, 2 before --since, 1 of another job", action(rep), rep.History)
	}
	rep = im.run(false, nil)
	if action(rep) != "unchanged" || rep.History.Inserted != 2 || rep.History.Existing != 1 {
		t.Fatalf("second import: %s, history %+v; want unchanged, 2 new runs, 1 existing", action(rep), rep.History)
	}
	runs, _, err := im.st.RunList(ctx, store.RunListParams{JobID: "daily"})
	if err != nil || len(runs) != 3 {
		t.Fatalf("runs: %d, %v", len(runs), err)
	}
	byStatus := map[connecthub.RunStatus]*connecthub.Run{}
	for _, r := range runs {
		byStatus[r.Status] = r
	}
	if r := byStatus[connecthub.StatusFailure]; r == nil || r.Error != "ValueError: no" || r.Trigger != connecthub.TriggerCron ||
		!r.ScheduledFor.Equal(time.Date(2031, 3, 9, 2, 0, 0, 0, pyimport.Shanghai)) {
		t.Errorf("failed run: %+v", r)
	}
	if r := byStatus[connecthub.StatusCanceled]; r == nil || r.Error != pyimport.ReasonImportedQueued || r.Trigger != connecthub.TriggerManual {
		t.Errorf("pending row: %+v", r)
	}
	if r := byStatus[connecthub.StatusSuccess]; r == nil || r.Attempt != 1 || string(r.Meta) != `{"imported_from":{"system":"python","job_logs_id":1}}` {
		t.Errorf("success run: %+v meta %s", r, r.Meta)
	}

	// The old system changed the job and fired a later slot: an update,
	// planned from its last_run_at. A dry run says so and writes nothing.
	im.old.exec(t, `UPDATE jobs SET cron_expr = '30 3 * * *', last_run_at = '2031-03-11 03:30:00'`)
	if rep := im.run(true, nil); action(rep) != "update" {
		t.Fatalf("dry run after a change: %s", action(rep))
	}
	if j, _ := im.st.JobGet(ctx, "daily"); j.CronExpr != "0 2 * * *" {
		t.Fatalf("the dry run wrote cron %q", j.CronExpr)
	}
	if rep := im.run(false, nil); action(rep) != "update" {
		t.Fatalf("import after a change: %s", action(rep))
	}
	j, err := im.st.JobGet(ctx, "daily")
	if err != nil {
		t.Fatal(err)
	}
	wantLast := time.Date(2031, 3, 11, 3, 30, 0, 0, pyimport.Shanghai)
	if j.CronExpr != "30 3 * * *" || !j.LastRunAt.Equal(wantLast) || !j.NextRunAt.Equal(wantLast.AddDate(0, 0, 1)) {
		t.Errorf("updated job: cron %q last %v next %v", j.CronExpr, j.LastRunAt, j.NextRunAt)
	}

	// last_run_at never moves back: ConnectHub fired later slots since.
	im.old.exec(t, `UPDATE jobs SET last_run_at = '2031-03-01 03:30:00'`)
	if rep := im.run(false, nil); action(rep) != "unchanged" {
		t.Errorf("an older last_run_at made the job %s", action(rep))
	}

	// A refusal: a public_cfg that is not an object.
	im.old.exec(t, `UPDATE jobs SET public_cfg = '"text"'`)
	rep = im.run(false, nil)
	if action(rep) != pyimport.ActionRefused || !strings.Contains(rep.Jobs[0].Reason, "public_cfg must be a JSON object") || rep.Refused != 1 {
		t.Errorf("bad public_cfg: %+v", rep.Jobs[0])
	}
}
