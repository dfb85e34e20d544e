package browsertest_test

import (
	"encoding/json"
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
	loginAt(t, ctx, srv, "/admin/runs?job_id=stuck")
	run(t, ctx, "the filtered runs list offers bulk actions",
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

// TestBrowserJobRetentionFields: the job form's retention fields refuse a
// count that is not a number under the field, save a count and a period
// in days, show the period back as typed, and clear the limits when
// emptied; the zh-CN form names them in Chinese.
func TestBrowserJobRetentionFields(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t)
	if code, b := srv.api(t, http.MethodPost, "/api/v1/jobs", `{"id":"kept","handler":"noop"}`); code != http.StatusCreated {
		t.Fatalf("create job: %d %s", code, b)
	}
	retention := func() (int, string) {
		t.Helper()
		code, b := srv.api(t, http.MethodGet, "/api/v1/jobs/kept", "")
		var j struct {
			KeepRuns int    `json:"keep_runs"`
			KeepFor  string `json:"keep_for"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(b), &j) != nil {
			t.Fatalf("get job: %d %s", code, b)
		}
		return j.KeepRuns, j.KeepFor
	}
	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 90*time.Second)
	loginAt(t, ctx, srv, "/admin/jobs/kept/edit")
	run(t, ctx, "a count that is no number is refused under the field",
		setText(`input[name=keep_runs]`, "many"),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#retention-fields .field-error") !== null &&
			document.querySelector("#retention-fields .field-error").textContent.includes("keep_runs")`),
	)
	run(t, ctx, "a count and a period in days save",
		chromedp.Navigate(srv.url+"/admin/jobs/kept/edit"),
		waitJS(`document.querySelector("input[name=keep_runs]") !== null`),
		setText(`input[name=keep_runs]`, "5"),
		setText(`input[name=keep_for]`, "30d"),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`document.querySelector(".flash, .notice") !== null`),
	)
	if n, d := retention(); n != 5 || d != "720h0m0s" {
		t.Fatalf("after saving 5 and 30d: keep_runs %d keep_for %q", n, d)
	}
	run(t, ctx, "the form shows the period as days, in zh-CN too",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/jobs/kept/edit"),
		waitJS(`location.pathname === "/admin/jobs/kept/edit" &&
			document.querySelector("input[name=keep_for]").value === "30d" &&
			document.querySelector("input[name=keep_runs]").value === "5" &&
			document.querySelector("#retention-fields").textContent.includes("保留运行数")`),
		setText(`input[name=keep_runs]`, ""),
		setText(`input[name=keep_for]`, ""),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`document.querySelector(".flash, .notice") !== null`),
	)
	if n, d := retention(); n != 0 || d != "0s" {
		t.Errorf("after emptying the fields: keep_runs %d keep_for %q, want no limits", n, d)
	}
}
