package browsertest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRunWithParams: the job page offers "Run with parameters…",
// whose form is built from the handler's schema; a value the schema
// refuses comes back with the reason and starts nothing; a good one starts
// a run whose page shows its parameters. The form speaks zh-CN.
func TestBrowserRunWithParams(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t)
	if code, body := srv.api(t, http.MethodPost, "/api/v1/jobs", `{"id":"nap","handler":"sleep","public_cfg":{"seconds":30}}`); code != http.StatusCreated {
		t.Fatalf("create job: %d %s", code, body)
	}
	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 90*time.Second)
	loginAt(t, ctx, srv, "/admin/jobs/nap/edit")
	run(t, ctx, "open the form from the job page",
		chromedp.Click(`a[data-action=run-params]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs/nap/run-params"`),
		// One input per schema property, with the configured value shown.
		waitJS(`document.querySelector('[data-param="seconds"]').placeholder === "30"`),
	)
	run(t, ctx, "a value the schema refuses",
		setText(`[data-param="seconds"]`, "-5"),
		chromedp.Click(`button[data-action=run-with-params]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#params-error") !== null && document.querySelector("#params-error").textContent.includes("params")`),
	)
	if code, body := srv.api(t, http.MethodGet, "/api/v1/runs?job_id=nap", ""); code != http.StatusOK || !strings.Contains(body, `"runs":[]`) {
		t.Fatalf("a refused form started a run: %s", body)
	}
	run(t, ctx, "a good value starts the run",
		setText(`[data-param="seconds"]`, "0"),
		chromedp.Click(`button[data-action=run-with-params]`, chromedp.ByQuery),
		waitJS(`location.pathname.startsWith("/admin/runs/")`),
		waitJS(`document.querySelector("[data-run-params]") !== null && document.querySelector("[data-run-params]").textContent.includes('"seconds":0')`),
		waitJS(`document.querySelector('[data-run-status="SUCCESS"]') !== null`),
	)
	run(t, ctx, "zh-CN",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/jobs/nap/run-params"),
		waitJS(`location.pathname === "/admin/jobs/nap/run-params" && document.querySelector("h1").textContent.includes("带参数运行")`),
	)
	page := html(t, ctx)
	for _, english := range []string{"Run with parameters", "As configured", "More parameters"} {
		if strings.Contains(page, english) {
			t.Errorf("the zh-CN form still says %q", english)
		}
	}
}
