package browsertest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserQueues: the queues page shows a paused queue with its waiting
// run and resumes it with one click; it speaks zh-CN.
func TestBrowserQueues(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t)
	for _, call := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/queues/payroll/pause", ""},
		{http.MethodPost, "/api/v1/jobs", `{"id":"pay","handler":"sleep","queue":"payroll","public_cfg":{"seconds":0}}`},
		{http.MethodPost, "/api/v1/jobs/pay/run", ""},
	} {
		if code, body := srv.api(t, call.method, call.path, call.body); code >= 300 {
			t.Fatalf("%s %s: %d %s", call.method, call.path, code, body)
		}
	}
	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 60*time.Second)
	row := `document.querySelector('tr[data-queue="payroll"]')`
	loginAt(t, ctx, srv, "/admin/queues")
	run(t, ctx, "payroll is paused",
		waitJS(row+` !== null && `+row+`.dataset.paused === "true" && `+row+`.textContent.includes("Paused")`),
	)
	run(t, ctx, "zh-CN",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/queues"),
		waitJS(`location.pathname === "/admin/queues" && `+row+`.textContent.includes("已暂停")`),
	)
	page := html(t, ctx)
	for _, english := range []string{"Waiting runs", "Oldest wait", ">Resume<", ">Paused<"} {
		if strings.Contains(page, english) {
			t.Errorf("the zh-CN queues page still says %q", english)
		}
	}
	run(t, ctx, "resume",
		chromedp.Click(`tr[data-queue="payroll"] button[data-action=resume]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/queues" && document.querySelector(".flash-success") !== null`),
	)
	if code, body := srv.api(t, http.MethodGet, "/api/v1/queues", ""); code != http.StatusOK || strings.Contains(body, `"paused":true`) {
		t.Errorf("after resume: %d %s", code, body)
	}
}
