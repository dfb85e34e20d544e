package browsertest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserBatches: the batches page lists applies, a batch's page
// shows its diff, an admin rolls a batch back after a confirmation, and a
// rollback of a batch whose job changed since is refused on the page,
// naming the job, with nothing changed; the pages speak zh-CN.
func TestBrowserBatches(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t)
	for _, call := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/batches", `{"documents":[{"file":"jobs.yaml","index":0,"job":{"id":"b.one","handler":"noop","description":"first"}},{"file":"jobs.yaml","index":1,"job":{"id":"b.two","handler":"noop"}}],"source":{"files":["jobs.yaml"],"hash":"sha256:1"}}`},
		{http.MethodPost, "/api/v1/batches", `{"documents":[{"file":"jobs.yaml","index":0,"job":{"id":"b.one","handler":"noop","description":"second"}},{"file":"jobs.yaml","index":1,"job":{"id":"b.two","handler":"noop"}}],"source":{"files":["jobs.yaml"],"hash":"sha256:2"}}`},
	} {
		if code, body := srv.api(t, call.method, call.path, call.body); code != http.StatusCreated {
			t.Fatalf("%s %s: %d %s", call.method, call.path, code, body)
		}
	}
	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 60*time.Second)
	loginAt(t, ctx, srv, "/admin/batches")
	run(t, ctx, "the batches page lists both batches",
		waitJS(`location.pathname === "/admin/batches" && document.querySelectorAll("tr[data-batch]").length === 2`),
	)
	run(t, ctx, "open batch 2 and see its diff",
		chromedp.Click(`tr[data-batch="2"] a`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/batches/2"`),
		waitJS(`document.querySelector('tr[data-job="b.one"]').textContent.includes("first") && document.querySelector('tr[data-job="b.one"] ins').textContent === "second"`),
	)
	run(t, ctx, "roll batch 2 back",
		chromedp.Click(`a[data-action=rollback]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/batches/2/rollback" && document.body.textContent.includes("b.one")`),
		chromedp.Click(`button[data-action=confirm]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/batches/3" && document.querySelector(".flash-success") !== null`),
	)
	if code, body := srv.api(t, http.MethodGet, "/api/v1/jobs/b.one", ""); code != http.StatusOK || !strings.Contains(body, `"description":"first"`) {
		t.Fatalf("b.one after the rollback: %d %s", code, body)
	}

	// b.two changes through the API: rolling batch 1 back is refused.
	if code, body := srv.api(t, http.MethodPatch, "/api/v1/jobs/b.two", `{"description":"edited"}`); code != http.StatusOK {
		t.Fatalf("PATCH b.two: %d %s", code, body)
	}
	run(t, ctx, "a refused rollback",
		chromedp.Navigate(srv.url+"/admin/batches/1"),
		waitJS(`document.querySelector('tr[data-job="b.two"]').dataset.changedSince === "true"`),
		chromedp.Click(`a[data-action=rollback]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/batches/1/rollback"`),
		chromedp.Click(`button[data-action=confirm]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#rollback-refused") !== null && document.querySelector("#rollback-refused").textContent.includes("b.two")`),
	)
	if code, _ := srv.api(t, http.MethodGet, "/api/v1/jobs/b.one", ""); code != http.StatusOK {
		t.Errorf("a refused rollback deleted b.one: %d", code)
	}
	run(t, ctx, "zh-CN",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/batches/1"),
		waitJS(`location.pathname === "/admin/batches/1" && document.body.textContent.includes("回滚")`),
	)
	page := html(t, ctx)
	for _, english := range []string{"Roll back", "Changed since", "Fields (before", ">Created<", "changed since"} {
		if strings.Contains(page, english) {
			t.Errorf("the zh-CN batch page still says %q", english)
		}
	}
}
