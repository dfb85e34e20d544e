package browsertest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserBulkRuns: on a filtered runs list, "Cancel…" shows a
// confirmation naming the count, and confirming cancels exactly those runs
// and lists the outcome; the confirmation speaks zh-CN.
func TestBrowserBulkRuns(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t)
	if code, body := srv.api(t, http.MethodPost, "/api/v1/jobs", `{"id":"stuck","handler":"noop","queue":"nobody-serves-this"}`); code != http.StatusCreated {
		t.Fatalf("create job: %d %s", code, body)
	}
	for range 3 {
		if code, body := srv.api(t, http.MethodPost, "/api/v1/jobs/stuck/run", ""); code >= 300 {
			t.Fatalf("run: %d %s", code, body)
		}
	}
	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 90*time.Second)
	run(t, ctx, "log in to the filtered runs list",
		chromedp.Navigate(srv.url+"/admin/runs?job_id=stuck"),
		chromedp.WaitVisible(`input[name=password]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=username]`, "admin", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=password]`, testPassword, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/runs" && document.querySelector("#bulk-actions") !== null`),
	)
	run(t, ctx, "the confirmation names the count",
		chromedp.Click(`a[data-bulk=cancel]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/runs/bulk/cancel" && document.querySelector("#bulk-count").textContent.includes("cancel 3 of the 3 runs")`),
	)
	if code, body := srv.api(t, http.MethodGet, "/api/v1/runs?job_id=stuck&status=QUEUED", ""); code != http.StatusOK || strings.Count(body, `"QUEUED"`) != 3 {
		t.Fatalf("the confirmation changed runs: %s", body)
	}
	run(t, ctx, "confirm",
		chromedp.Click(`button[data-action=confirm]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#bulk").dataset.dryRun === "false" && document.querySelector("#bulk-count").textContent.includes("Canceled 3 of the 3")`),
		waitJS(`document.querySelectorAll('#bulk-outcomes tr[data-outcome="ok"]').length === 3`),
	)
	if code, body := srv.api(t, http.MethodGet, "/api/v1/runs?job_id=stuck&status=CANCELED", ""); code != http.StatusOK || strings.Count(body, `"CANCELED"`) != 3 {
		t.Fatalf("after the bulk cancel: %s", body)
	}
	run(t, ctx, "zh-CN",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next="+"/admin/runs/bulk/delete%3Fjob_id%3Dstuck"),
		waitJS(`location.pathname === "/admin/runs/bulk/delete" && document.querySelector("h1").textContent.includes("删除筛选出的运行")`),
		waitJS(`document.querySelector("#bulk-count").textContent.includes("将删除 3 个运行")`),
	)
	page := html(t, ctx)
	for _, english := range []string{"This will delete", "Delete 3 runs", "cannot be undone"} {
		if strings.Contains(page, english) {
			t.Errorf("the zh-CN confirmation still says %q", english)
		}
	}
}
