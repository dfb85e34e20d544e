package browsertest_test

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite"

	"github.com/connecthub/connecthub/internal/cli"
)

// TestBrowserImportedRun: a run imported from the Python ConnectHub says
// so on its page, with the job_logs row and the Celery task it came from,
// in English and in zh-CN. The old database is the smallest one the
// import reads (an older install's columns), imported into the running
// server's database as docs/migrating-from-python.md does it.
func TestBrowserImportedRun(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t)
	oldPath := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", oldPath)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	for _, stmt := range []string{
		`CREATE TABLE jobs (id VARCHAR(128) PRIMARY KEY, enabled BOOLEAN NOT NULL DEFAULT 1, cron_expr VARCHAR(64),
			handler_path VARCHAR(256) NOT NULL, public_cfg TEXT, secret_cfg TEXT, last_run_at DATETIME)`,
		`CREATE TABLE job_logs (id INTEGER PRIMARY KEY, job_id VARCHAR(128) NOT NULL, status VARCHAR(16) NOT NULL,
			message TEXT, run_log TEXT, started_at DATETIME, finished_at DATETIME, celery_task_id VARCHAR(64))`,
		`INSERT INTO jobs VALUES ('legacy.report', 0, '0 * * * *', 'extensions.reports.daily:DailyReportJob', '{}', NULL, NULL)`,
		`INSERT INTO job_logs VALUES (1234567, 'legacy.report', 'SUCCESS', 'sent 1 report', 'report sent',
			'2026-03-02 09:00:01', '2026-03-02 09:00:04', 'celery-7f3a')`,
	} {
		if _, err := old.Exec(stmt); err != nil {
			t.Fatalf("the old database: %v", err)
		}
	}
	var out, errOut lockedBuffer
	vars := map[string]string{"CONNECTHUB_DATA_DIR": srv.dir}
	if code := cli.Run(context.Background(), cli.Env{
		Args:   []string{"import", "python", "--from", "sqlite://" + oldPath, "--history"},
		Getenv: func(k string) string { return vars[k] }, Stdout: &out, Stderr: &errOut,
		DotEnv: filepath.Join(srv.dir, ".env-none"),
	}); code != 0 {
		t.Fatalf("import: exit %d: %s%s", code, out.String(), errOut.String())
	}
	code, body := srv.api(t, http.MethodGet, "/api/v1/runs?job_id=legacy.report", "")
	if code != http.StatusOK || !strings.Contains(body, `"imported_from":{"system":"python","job_logs_id":1234567,"celery_task_id":"celery-7f3a"}`) {
		t.Fatalf("the API does not show the imported run's meta: %d %s", code, body)
	}
	runID := body[strings.Index(body, `"id":"`)+6:]
	runID = runID[:strings.Index(runID, `"`)]

	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 60*time.Second)
	loginAt(t, ctx, srv, "/admin/runs/"+runID)
	run(t, ctx, "the run says where it came from",
		waitJS(`document.querySelector("[data-imported-from]") !== null`),
		waitJS(`(() => { const dd = document.querySelector("[data-imported-from]");
			const dt = dd.previousElementSibling.textContent;
			const t = dd.textContent;
			return dt.includes("Imported from") && t.includes("Python ConnectHub") && t.includes("1234567") && t.includes("celery-7f3a"); })()`),
	)
	run(t, ctx, "zh-CN",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/runs/"+runID),
		waitJS(`location.pathname === "/admin/runs/`+runID+`" && document.querySelector("[data-imported-from]") !== null`),
		waitJS(`document.querySelector("[data-imported-from]").previousElementSibling.textContent.includes("导入来源") &&
			document.querySelector("[data-imported-from]").textContent.includes("1234567")`),
	)
	page := html(t, ctx)
	for _, english := range []string{"Imported from", "Celery task", "job_logs row"} {
		if strings.Contains(page, english) {
			t.Errorf("the zh-CN run page still says %q", english)
		}
	}
}
