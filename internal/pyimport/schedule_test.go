package pyimport_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/pyimport"
	"github.com/connecthub/connecthub/internal/scheduler"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/testenv"
)

// oldDB makes a Python ConnectHub database of an old install: a jobs
// table with only the columns every version had (no public_cfg,
// secret_cfg, created_at; no job_logs at all), holding one hourly job
// whose beat last fired at lastRun (naive Asia/Shanghai text).
func oldDB(t *testing.T, lastRun string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE jobs (id VARCHAR PRIMARY KEY, enabled BOOLEAN, cron_expr VARCHAR, handler_path VARCHAR, last_run_at DATETIME)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO jobs VALUES ('hourly', 1, '0 * * * *', 'extensions.hourly:Job', ?)`, lastRun); err != nil {
		t.Fatal(err)
	}
	return "sqlite://" + path
}

// TestImportedJobFiresTheSlotAfterLastRunAt checks the cut-over promise:
// the beat's last slot does not fire again on ConnectHub, the next one
// fires once, also when the cut-over took longer than the gap to it.
func TestImportedJobFiresTheSlotAfterLastRunAt(t *testing.T) {
	t.Parallel()
	sh := pyimport.Shanghai
	last := time.Date(2031, 3, 14, 9, 0, 0, 0, sh)
	next := last.Add(time.Hour)
	for name, c := range map[string]struct {
		importAt, fireAt time.Time
	}{
		"on time":            {importAt: last.Add(30 * time.Minute), fireAt: next.Add(time.Second)},
		"cut-over past slot": {importAt: next.Add(10 * time.Minute), fireAt: next.Add(20 * time.Minute)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testenv.Context(t)
			src, err := pyimport.OpenSource(ctx, oldDB(t, "2031-03-14 09:00:00.000000"), false)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			st := testenv.SQLite(t)
			clk := testenv.ClockAt(c.importAt)
			key, _ := secret.GenerateKey()
			keys, err := secret.Parse(key, "test")
			if err != nil {
				t.Fatal(err)
			}
			rep, err := pyimport.Run(ctx, pyimport.Config{
				Source: src, Mapping: pyimport.NewMapping(nil), Store: st,
				Service: service.Config{Store: st, Keys: keys, Now: clk.Now},
			})
			if err != nil || rep.Refused != 0 || rep.Jobs[0].Action != string(service.ImportCreate) {
				t.Fatalf("import: %+v, %v", rep, err)
			}
			j, err := st.JobGet(ctx, "hourly")
			if err != nil {
				t.Fatal(err)
			}
			if j.LastRunAt == nil || !j.LastRunAt.Equal(last) || j.NextRunAt == nil || !j.NextRunAt.Equal(next) {
				t.Fatalf("imported job: last_run_at %v next_run_at %v; want %v and %v", j.LastRunAt, j.NextRunAt, last, next)
			}
			sched, err := scheduler.New(scheduler.Config{Store: st, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			clk.Set(c.fireAt)
			for i := range 2 {
				if _, err := sched.Tick(ctx); err != nil {
					t.Fatalf("tick %d: %v", i, err)
				}
			}
			runs, _, err := st.RunList(ctx, store.RunListParams{JobID: "hourly"})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 1 || runs[0].Trigger != connecthub.TriggerCron || !runs[0].ScheduledFor.Equal(next) {
				for _, r := range runs {
					t.Logf("run %s %s scheduled for %v", r.ID, r.Trigger, r.ScheduledFor.In(sh))
				}
				t.Fatalf("%d runs; want one cron run for %v and none for %v", len(runs), next, last)
			}
		})
	}
}
