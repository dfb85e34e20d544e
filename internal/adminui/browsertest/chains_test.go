package browsertest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserChains: the job form's on success field refuses a cycle with
// the cycle named under the field (in English and in zh-CN) and saves a
// good list; the job page's graph shows the upstream and downstream jobs;
// a run of the first job starts the second, and each run page's chain
// section links the other; deleting a job another chains to is refused in
// zh-CN with a Chinese message naming both jobs.
func TestBrowserChains(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t)
	for _, body := range []string{
		`{"id":"second","handler":"noop","on_success":[]}`,
		`{"id":"first","handler":"noop"}`,
		`{"id":"alarm","handler":"noop","enabled":false}`,
	} {
		if code, b := srv.api(t, http.MethodPost, "/api/v1/jobs", body); code != http.StatusCreated {
			t.Fatalf("create job: %d %s", code, b)
		}
	}
	if code, b := srv.api(t, http.MethodPatch, "/api/v1/jobs/second", `{"on_failure":["first"]}`); code != http.StatusOK {
		t.Fatalf("chain second to first: %d %s", code, b)
	}
	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 90*time.Second)
	loginAt(t, ctx, srv, "/admin/jobs/first/edit")
	run(t, ctx, "a cycle is refused under the field",
		setText(`input[name=on_success]`, "second"),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#chain-fields .field-error") !== null &&
			document.querySelector("#chain-fields .field-error").textContent.includes("first → second → first")`),
	)
	run(t, ctx, "zh-CN names the cycle too",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/jobs/first/edit"),
		waitJS(`location.pathname === "/admin/jobs/first/edit"`),
		setText(`input[name=on_success]`, "second"),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#chain-fields .field-error") !== null &&
			document.querySelector("#chain-fields .field-error").textContent.includes("形成环：first → second → first")`),
	)
	if page := html(t, ctx); strings.Contains(page, "On success") || strings.Contains(page, "Chains may not loop") {
		t.Errorf("the zh-CN form still speaks English about chains")
	}
	run(t, ctx, "a good list saves and the graph shows it",
		chromedp.Navigate(srv.url+"/admin/lang?to=en&next=/admin/jobs/second/edit"),
		waitJS(`location.pathname === "/admin/jobs/second/edit"`),
		setText(`input[name=on_failure]`, ""),
		setText(`input[name=on_success]`, "alarm"),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`document.querySelector(".flash, .notice") !== null`),
		chromedp.Navigate(srv.url+"/admin/jobs/first/edit"),
		setText(`input[name=on_success]`, "second"),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`document.querySelector("#job-chain [data-chain-downstream]") !== null &&
			document.querySelector("#job-chain [data-chain-downstream]").textContent.includes("second")`),
		chromedp.Navigate(srv.url+"/admin/jobs/second/edit"),
		waitJS(`document.querySelector("#job-chain [data-chain-upstream] a") !== null &&
			document.querySelector("#job-chain [data-chain-upstream]").textContent.includes("first") &&
			document.querySelector("#job-chain [data-chain-on=success]").textContent.includes("alarm") &&
			document.querySelector("#job-chain [data-chain-on=success]").textContent.includes("disabled")`),
	)

	code, body := srv.api(t, http.MethodPost, "/api/v1/jobs/first/run", "")
	if code != http.StatusAccepted {
		t.Fatalf("run first: %d %s", code, body)
	}
	var first struct{ ID string }
	if err := json.Unmarshal([]byte(body), &first); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "the parent's run page links the run it started",
		chromedp.Navigate(srv.url+"/admin/runs/"+first.ID),
		waitJS(`document.querySelector('[data-run-status="SUCCESS"]') !== null`),
		chromedp.Navigate(srv.url+"/admin/runs/"+first.ID),
		waitJS(`document.querySelector("#run-chain [data-chain-children] a") !== null &&
			document.querySelector("#run-chain [data-chain-children]").textContent.includes("second")`),
		chromedp.Click(`#run-chain [data-chain-children] a`, chromedp.ByQuery),
		waitJS(`location.pathname.startsWith("/admin/runs/") && !location.pathname.endsWith("`+first.ID+`")`),
		waitJS(`document.querySelector("#run-chain [data-chain-parent] a") !== null &&
			document.querySelector("#run-chain [data-chain-parent] a").getAttribute("href").endsWith("`+first.ID+`")`),
	)
	run(t, ctx, "zh-CN refuses to delete a job another chains to, in Chinese",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/jobs/alarm/delete"),
		waitJS(`location.pathname === "/admin/jobs/alarm/delete"`),
		chromedp.Click(`button[data-action=confirm]`, chromedp.ByQuery),
		waitJS(`document.querySelector(".error-message") !== null`),
	)
	var msg string
	run(t, ctx, "read the message", chromedp.Text(`.error-message`, &msg, chromedp.ByQuery))
	if !strings.Contains(msg, "无法删除任务 alarm") || !strings.Contains(msg, "second") || englishSentence.MatchString(msg) {
		t.Errorf("the zh-CN refusal to delete a chained-to job reads %q", msg)
	}
	if code, b := srv.api(t, http.MethodGet, "/api/v1/jobs/alarm", ""); code != http.StatusOK {
		t.Errorf("the refused delete removed the job: %d %s", code, b)
	}
}
