package browsertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// shot saves the tab's viewport as docs/screenshots/<name>.png when
// screenshots are wanted.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !wantScreenshots() {
		return
	}
	var buf []byte
	run(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot(&buf))
	save(t, name, buf)
}

// fullShot saves the whole page, for pages taller than the window. The
// window grows to the page first, so that sticky parts (the form's save
// bar) sit where a person scrolling to the end sees them.
func fullShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var height int64
	var buf []byte
	run(t, ctx, "screenshot "+name,
		chromedp.Evaluate(`document.documentElement.scrollHeight`, &height),
		chromedp.ActionFunc(func(ctx context.Context) error {
			return chromedp.EmulateViewport(1366, height).Do(ctx)
		}),
		chromedp.CaptureScreenshot(&buf))
	save(t, name, buf)
}

// save writes a screenshot into docs/screenshots when screenshots were
// asked for (see wantScreenshots), and drops it otherwise: a plain test run
// must not rewrite files of the checkout.
func save(t *testing.T, name string, png []byte) {
	t.Helper()
	if !wantScreenshots() {
		return
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(screenshotDir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s (%d KiB)", path, len(png)/1024)
}

// gallery fills the server with a small, realistic data set and saves
// screenshots of the main pages, on a laptop, in Chinese and on a phone.
func gallery(t *testing.T, browser context.Context, srv *serveProc, g *gate) {
	t.Helper()
	// The cross-site test's victim has done its part.
	if code, body := srv.api(t, http.MethodDelete, "/api/v1/jobs/victim", ""); code != http.StatusNoContent {
		t.Fatalf("delete victim: %d %s", code, body)
	}
	jobs := []string{
		`{"id":"oa.export-form","handler":"sleep","cron_expr":"0 */2 * * *","description":"Export the CAP4 member form from Seeyon OA","public_cfg":{"seconds":0.3}}`,
		`{"id":"didi.legal-entity-sync","handler":"noop","cron_expr":"30 9 * * 1-5","description":"Sync legal entities from OA to Didi"}`,
		`{"id":"didi.member-sync","handler":"demo.fail","cron_expr":"*/15 * * * *","description":"Push member changes to Didi","max_attempts":1}`,
		`{"id":"report.daily","handler":"noop","cron_expr":"@daily","timezone":"Europe/London","enabled":false,"description":"Daily summary e-mail (paused during the migration)"}`,
		`{"id":"ops.cleanup","handler":"sleep","description":"Remove temporary exports; run on demand","public_cfg":{"seconds":0.2}}`,
		`{"id":"partner.sync","handler":"demo.sync","cron_expr":"0 8 * * *","description":"Sync records to the partner API","public_cfg":{"url":"https://partner.example/api","batch":200},"secret_cfg":{"api_key":"gallery-secret"},"timeout":"10m","max_attempts":3}`,
	}
	for _, j := range jobs {
		if code, body := srv.api(t, http.MethodPost, "/api/v1/jobs", j); code != http.StatusCreated {
			t.Fatalf("gallery job: %d %s", code, body)
		}
	}
	var ids []string
	for _, j := range []string{"oa.export-form", "didi.legal-entity-sync", "didi.member-sync", "ops.cleanup", "didi.legal-entity-sync", "didi.member-sync", "oa.export-form"} {
		code, body := srv.api(t, http.MethodPost, "/api/v1/jobs/"+j+"/run", "")
		if code != http.StatusAccepted {
			t.Fatalf("gallery run: %d %s", code, body)
		}
		var r struct{ ID string }
		_ = json.Unmarshal([]byte(body), &r)
		ids = append(ids, r.ID)
	}
	waitTerminal(t, srv, ids)
	// One run still going (the demo handler waits for the gate, which
	// stays closed), for the dashboard; it is canceled at the end.
	code, body := srv.api(t, http.MethodPost, "/api/v1/jobs/partner.sync/run", "")
	if code != http.StatusAccepted {
		t.Fatalf("gallery run: %d %s", code, body)
	}
	var live struct{ ID string }
	_ = json.Unmarshal([]byte(body), &live)

	ctx := tab(t, browser, 60*time.Second)
	run(t, ctx, "laptop viewport", chromedp.EmulateViewport(1366, 900))
	page := func(path, ready string) {
		t.Helper()
		run(t, ctx, "open "+path, chromedp.Navigate(srv.url+path), chromedp.WaitVisible(ready, chromedp.ByQuery))
	}
	page("/admin/", ".tiles")
	shot(t, ctx, "dashboard")
	page("/admin/jobs", "#jobs-table")
	shot(t, ctx, "jobs")
	page("/admin/jobs/partner.sync/edit", "#cron-preview li")
	fullShot(t, ctx, "job-form")
	run(t, ctx, "laptop viewport again", chromedp.EmulateViewport(1366, 900))
	failed := findRun(t, srv, "didi.member-sync", "FAILURE")
	page("/admin/runs/"+failed, "#run-log")
	shot(t, ctx, "run-failure")
	page("/admin/runs", "table")
	shot(t, ctx, "runs")
	page("/admin/nodes", "main")
	shot(t, ctx, "nodes")

	page("/admin/lang?to=zh-CN&next=/admin/", ".tiles")
	shot(t, ctx, "dashboard-zh-CN")
	page("/admin/jobs/new?handler=demo.sync", "#cron-preview")
	run(t, ctx, "type a cron", chromedp.SendKeys(`#cron_expr`, "0 9 * * 1-5", chromedp.ByID),
		waitJS(`document.querySelectorAll("#cron-preview li").length === 5`))
	shot(t, ctx, "job-form-zh-CN")
	page("/admin/lang?to=en&next=/admin/", ".tiles")

	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	page("/admin/jobs", "#jobs-table")
	shot(t, ctx, "mobile-jobs")
	page("/admin/runs/"+failed, "#run-log")
	shot(t, ctx, "mobile-run")
	_, _ = srv.api(t, http.MethodPost, "/api/v1/runs/"+live.ID+"/cancel", "")
}

// waitTerminal polls the API until the runs have ended, as a person
// watching the runs page would.
func waitTerminal(t *testing.T, srv *serveProc, ids []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			_, body := srv.api(t, http.MethodGet, "/api/v1/runs/"+id, "")
			var r struct{ Status string }
			_ = json.Unmarshal([]byte(body), &r)
			if r.Status == "SUCCESS" || r.Status == "FAILURE" || r.Status == "CANCELED" || r.Status == "SKIPPED" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s did not end: %s", id, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// findRun returns the newest run of a job with the status.
func findRun(t *testing.T, srv *serveProc, job, status string) string {
	t.Helper()
	_, body := srv.api(t, http.MethodGet, fmt.Sprintf("/api/v1/runs?job_id=%s&status=%s&limit=1", job, status), "")
	var page struct{ Runs []struct{ ID string } }
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Runs) == 0 {
		t.Fatalf("no %s run of %s: %s", status, job, strings.TrimSpace(body))
	}
	return page.Runs[0].ID
}
