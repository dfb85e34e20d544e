package browsertest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRevisions: a job's Revisions tab lists its changes, compares
// two side by side without showing a secret value, and restores one after
// a confirmation; a deleted job is found under "Deleted jobs" and restored
// from there; the pages speak zh-CN completely.
func TestBrowserRevisions(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t)
	const secretValue = "s3cr3t-pin-8817"
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/jobs", `{"id":"ledger","handler":"noop","description":"first","secret_cfg":{"pin":"` + secretValue + `"}}`},
		{http.MethodPatch, "/api/v1/jobs/ledger", `{"description":"second","secret_cfg":{"pin":"other ` + secretValue + `"}}`},
		{http.MethodPost, "/api/v1/jobs", `{"id":"old.report","handler":"noop","description":"kept in revisions"}`},
		{http.MethodDelete, "/api/v1/jobs/old.report", ``},
	} {
		if code, body := srv.api(t, c.method, c.path, c.body); code >= 300 {
			t.Fatalf("%s %s: %d %s", c.method, c.path, code, body)
		}
	}
	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 90*time.Second)

	loginAt(t, ctx, srv, "/admin/jobs/ledger/edit")
	run(t, ctx, "open the job's Revisions tab",
		waitJS(`document.querySelector('a[data-action=revisions]') !== null`),
		chromedp.Click(`a[data-action=revisions]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs/ledger/revisions" && document.querySelectorAll("#revisions-table tbody tr").length === 2`),
	)
	run(t, ctx, "the two newest are compared side by side, times with their offset",
		waitJS(`document.querySelector('#revision-diff tr[data-field=description] .diff-before').textContent === "first"`),
		waitJS(`document.querySelector('#revision-diff tr[data-field=description] .diff-after').textContent === "second"`),
		waitJS(`document.querySelector('#revision-diff tr[data-field=secret_cfg]').textContent.includes("keys [pin] changed")`),
		waitJS(`document.querySelector('#revisions-table time .tz').textContent.includes("+08:00")`),
	)
	if page := html(t, ctx); strings.Contains(page, secretValue) || strings.Contains(page, "gAAAAA") {
		t.Fatal("the Revisions tab shows a secret value or its token")
	}
	run(t, ctx, "picking the same revision twice shows no difference",
		chromedp.Click(`tr[data-revision="2"] input[name=a]`, chromedp.ByQuery),
		chromedp.Click(`button[data-action=compare]`, chromedp.ByQuery),
		waitJS(`location.search.includes("a=2") && document.querySelector('#revision-diff [data-diff=none]') !== null`),
	)
	run(t, ctx, "restore revision 1 after the confirmation",
		chromedp.Click(`tr[data-revision="1"] a[data-action=restore]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#restore-confirm") !== null && document.querySelector('#revision-diff tr[data-field=description]') !== null`),
		chromedp.Click(`#restore-confirm button[data-action=confirm]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs/ledger/edit" && document.querySelector(".flash-success") !== null`),
		waitJS(`document.querySelector("textarea[name=description]").value === "first"`),
	)
	if code, body := srv.api(t, http.MethodGet, "/api/v1/jobs/ledger/revisions/1/diff/3", ""); code != http.StatusOK || !strings.Contains(body, `"changes":[]`) {
		t.Errorf("revision 3 (the restore) differs from revision 1: %d %s", code, body)
	}

	run(t, ctx, "a deleted job is listed and restored",
		chromedp.Navigate(srv.url+"/admin/jobs"),
		waitJS(`document.querySelector('a[data-action=deleted-jobs]') !== null`),
		chromedp.Click(`a[data-action=deleted-jobs]`, chromedp.ByQuery),
		waitJS(`document.querySelector('tr[data-job="old.report"]') !== null`),
		chromedp.Click(`tr[data-job="old.report"] a[data-action=restore]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#restore-confirm") !== null`),
		chromedp.Click(`#restore-confirm button[data-action=confirm]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs/old.report/edit" && document.querySelector("textarea[name=description]").value === "kept in revisions"`),
	)

	run(t, ctx, "zh-CN",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/jobs/ledger/revisions"),
		waitJS(`location.pathname === "/admin/jobs/ledger/revisions" && document.querySelector("h1").textContent.includes("版本")`),
	)
	page := html(t, ctx)
	for _, english := range []string{"Revisions", "Compare", "Restore", "restored", "created", "Secret keys", "do not differ"} {
		if strings.Contains(page, ">"+english) || strings.Contains(page, english+"<") {
			t.Errorf("the zh-CN Revisions tab still says %q", english)
		}
	}
	run(t, ctx, "zh-CN deleted jobs",
		chromedp.Navigate(srv.url+"/admin/deleted-jobs"),
		waitJS(`document.querySelector("h1").textContent.includes("已删除的任务")`),
	)
}
