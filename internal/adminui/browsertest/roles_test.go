package browsertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/connecthub/connecthub/handler"
)

var quickHandler = handler.Spec{
	Name: "demo.quick",
	Func: func(context.Context, *handler.Task) (*handler.Result, error) {
		return &handler.Result{Message: "done"}, nil
	},
}

// signIn logs the tab in as user (signing out whoever was signed in).
// Every step waits on a condition of the page for as long as the tab's
// context allows, not on a short deadline of its own: under a heavy load
// a password hash and a page render can take many seconds, and the step
// is still right when it finishes. The sign-out is one click, so that it
// is recorded once.
func signIn(t *testing.T, ctx context.Context, srv *serveProc, user, password string) {
	t.Helper()
	const onLogin = `location.pathname === "/admin/login" && document.readyState === "complete" && !!document.querySelector("input[name=password]")`
	run(t, ctx, "open the login page before signing in as "+user, chromedp.Navigate(srv.url+"/admin/login"),
		waitUntil(`document.readyState === "complete" && (!!document.querySelector("form.logout") || (`+onLogin+`))`))
	var signedIn bool
	run(t, ctx, "is somebody signed in", chromedp.Evaluate(`!!document.querySelector("form.logout")`, &signedIn))
	if signedIn {
		run(t, ctx, "sign out before signing in as "+user,
			chromedp.Click(`form.logout button`, chromedp.ByQuery), waitUntil(onLogin))
	}
	run(t, ctx, "sign in as "+user,
		chromedp.SetValue(`input[name=username]`, user, chromedp.ByQuery),
		chromedp.SetValue(`input[name=password]`, password, chromedp.ByQuery),
		chromedp.Click(`form[action="/admin/login"] button[type=submit]`, chromedp.ByQuery),
		waitUntil(`location.pathname === "/admin/" && document.readyState === "complete" && !!document.querySelector("form.logout")`),
	)
}

// waitUntil waits until the expression is truthy in the page, for as long
// as ctx allows. A navigation destroys the document a poll runs in; the
// wait then starts again on the new page.
func waitUntil(expr string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			var ok bool
			err := chromedp.Poll(expr, &ok).Do(ctx)
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("waiting for %s: %w", expr, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// postFromPage sends a form post the page itself did not offer, with the
// session's CSRF token, as a person editing the HTML would, and returns
// its status.
func postFromPage(t *testing.T, ctx context.Context, path string) int {
	t.Helper()
	var status int
	run(t, ctx, "direct POST "+path, chromedp.Evaluate(fmt.Sprintf(`(async () => {
		const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
		const r = await fetch(%q, {method: "POST", body: new URLSearchParams({csrf_token: token, description: "changed"})});
		return r.status;
	})()`, path), &status, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	return status
}

// count returns how many elements match sel in the page.
func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	var n int
	run(t, ctx, "count "+sel, chromedp.Evaluate(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n))
	return n
}

// TestBrowserRoles: a viewer sees no edit, run or delete control and a
// direct POST is refused; an operator runs a job but cannot edit it; an
// admin edits it, manages users, and makes a personal token on its
// account page.
func TestBrowserRoles(t *testing.T) {
	chromium := findChromium(t)
	srv := startServe(t, quickHandler)
	for _, u := range []struct{ name, role string }{{"vera", "viewer"}, {"otto", "operator"}, {"ada", "admin"}} {
		body := fmt.Sprintf(`{"username":%q,"role":%q,"password":"password of %s"}`, u.name, u.role, u.name)
		if code, b := srv.api(t, http.MethodPost, "/api/v1/users", body); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", u.name, code, b)
		}
	}
	if code, b := srv.api(t, http.MethodPost, "/api/v1/jobs", `{"id":"roles.demo","handler":"demo.quick","description":"before"}`); code != http.StatusCreated {
		t.Fatalf("create job: %d %s", code, b)
	}
	// A channel, a rule and a paused queue, so that their pages have rows
	// whose controls a viewer must not get.
	for _, c := range []struct{ path, body string }{
		{"/api/v1/channels", `{"name":"ops","type":"webhook","url":"http://127.0.0.1:9/hook"}`},
		{"/api/v1/alert-rules", `{"name":"all failures","event":"failure","channels":["ops"]}`},
		{"/api/v1/queues/batch/pause", ""},
	} {
		if code, b := srv.api(t, http.MethodPost, c.path, c.body); code != http.StatusCreated && code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", c.path, code, b)
		}
	}
	runs := func() int {
		_, b := srv.api(t, http.MethodGet, "/api/v1/runs?job_id=roles.demo", "")
		var out struct{ Runs []json.RawMessage }
		_ = json.Unmarshal([]byte(b), &out)
		return len(out.Runs)
	}
	browser := newBrowser(t, chromium)
	// A bound for the whole walk-through on a loaded machine; each step
	// waits on its page, not on a deadline of its own.
	ctx := tab(t, browser, 300*time.Second)

	// The viewer: no control that changes anything, and a hand-made POST
	// is refused.
	signIn(t, ctx, srv, "vera", "password of vera")
	run(t, ctx, "viewer: jobs", chromedp.Navigate(srv.url+"/admin/jobs"), chromedp.WaitVisible(`#job-roles\.demo`, chromedp.ByQuery))
	for _, page := range []string{"/admin/", "/admin/jobs", "/admin/jobs/roles.demo/edit", "/admin/runs", "/admin/queues",
		"/admin/notify/channels", "/admin/notify/rules", "/admin/notify/deliveries"} {
		run(t, ctx, "viewer: "+page, chromedp.Navigate(srv.url+page), chromedp.WaitVisible(`main`, chromedp.ByQuery))
		if n := count(t, ctx, `main form[method=post], main [data-action=run-now], main [data-action=run-params], main [data-action=pause], main [data-action=resume], `+
			`main [data-action=delete], main [data-action=save], main a[href="/admin/jobs/new"], main a[href*="/notify/channels/"], main a[href*="/notify/rules/"], main [data-notify-shortcut]`); n != 0 {
			t.Errorf("viewer: %s offers %d controls that change something", page, n)
		}
		if n := count(t, ctx, `a[href="/admin/users"]`); n != 0 {
			t.Errorf("viewer: %s links to the users page", page)
		}
	}
	run(t, ctx, "viewer: the queues and rules are listed", chromedp.Navigate(srv.url+"/admin/queues"),
		waitJS(`document.querySelector('#queues-table tr[data-queue="batch"][data-paused="true"]') !== null`),
		chromedp.Navigate(srv.url+"/admin/notify/rules"), waitJS(`document.querySelector("#rules-table").textContent.includes("all failures")`))
	run(t, ctx, "viewer: job page is read only", chromedp.Navigate(srv.url+"/admin/jobs/roles.demo/edit"),
		waitJS(`document.querySelector("#job-form[data-readonly] fieldset[disabled]") !== null`))
	for _, p := range []string{"/admin/jobs/roles.demo/run", "/admin/jobs/roles.demo/edit", "/admin/jobs/roles.demo/delete", "/admin/jobs/roles.demo/disable",
		"/admin/jobs/roles.demo/run-params", "/admin/queues/batch/resume", "/admin/notify/channels/ops/delete", "/admin/notify/channels/ops/test"} {
		if st := postFromPage(t, ctx, p); st != http.StatusForbidden {
			t.Errorf("viewer: direct POST %s answered %d, want 403", p, st)
		}
	}
	if n := runs(); n != 0 {
		t.Fatalf("viewer's refused POSTs made %d runs", n)
	}

	// The operator: runs the job, cannot edit it.
	signIn(t, ctx, srv, "otto", "password of otto")
	run(t, ctx, "operator: job page", chromedp.Navigate(srv.url+"/admin/jobs/roles.demo/edit"),
		chromedp.WaitVisible(`[data-action=run-now]`, chromedp.ByQuery))
	if n := count(t, ctx, `[data-action=save], [data-action=delete], form#job-form, [data-notify-shortcut]`); n != 0 {
		t.Errorf("operator: the job page offers %d edit or delete controls", n)
	}
	if n := count(t, ctx, `[data-action=run-params]`); n != 1 {
		t.Errorf("operator: the job page offers %d \"Run with parameters…\" links, want 1", n)
	}
	run(t, ctx, "operator: resumes the queue", chromedp.Navigate(srv.url+"/admin/queues"),
		chromedp.Click(`#queues-table tr[data-queue="batch"] [data-action=resume]`, chromedp.ByQuery),
		waitJS(`document.querySelector('#queues-table tr[data-queue="batch"]') === null || document.querySelector('#queues-table tr[data-queue="batch"][data-paused="false"]') !== null`))
	run(t, ctx, "operator: no channel forms", chromedp.Navigate(srv.url+"/admin/notify/channels"), chromedp.WaitVisible(`#channels-table`, chromedp.ByQuery))
	if n := count(t, ctx, `main form[method=post], main a[href*="/notify/channels/"]`); n != 0 {
		t.Errorf("operator: the channels page offers %d controls that change something", n)
	}
	run(t, ctx, "operator: back to the job", chromedp.Navigate(srv.url+"/admin/jobs/roles.demo/edit"),
		chromedp.WaitVisible(`[data-action=run-now]`, chromedp.ByQuery))
	if st := postFromPage(t, ctx, "/admin/jobs/roles.demo/edit"); st != http.StatusForbidden {
		t.Errorf("operator: direct POST edit answered %d, want 403", st)
	}
	run(t, ctx, "operator: run now",
		chromedp.Click(`[data-action=run-now]`, chromedp.ByQuery),
		waitJS(`location.pathname.startsWith("/admin/runs/")`),
		waitJS(`document.querySelector('[data-run-status="SUCCESS"]') !== null`),
	)
	if n := runs(); n != 1 {
		t.Errorf("operator's run now made %d runs, want 1", n)
	}

	// The admin: edits the job, adds a user and sets roles, makes a
	// personal token.
	signIn(t, ctx, srv, "ada", "password of ada")
	run(t, ctx, "admin: edit",
		chromedp.Navigate(srv.url+"/admin/jobs/roles.demo/edit"),
		chromedp.WaitVisible(`[data-action=save]`, chromedp.ByQuery),
		setText(`textarea[name=description]`, "after"),
		chromedp.Click(`[data-action=save]`, chromedp.ByQuery),
		chromedp.WaitVisible(`.flash-success`, chromedp.ByQuery),
	)
	if _, b := srv.api(t, http.MethodGet, "/api/v1/jobs/roles.demo", ""); !strings.Contains(b, `"description":"after"`) {
		t.Errorf("the admin's edit was not saved: %s", b)
	}
	// The job's History tab shows who changed what, and who ran it.
	run(t, ctx, "admin: history",
		chromedp.Click(`[data-action=history]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs/roles.demo/history"`),
		waitJS(`(() => { const r = document.querySelector('#audit-table tr[data-action="job.update"][data-actor="ada"]');
			return r !== null && r.textContent.includes("description") && r.textContent.includes("before") && r.textContent.includes("after"); })()`),
		waitJS(`document.querySelector('#audit-table tr[data-action="run.now"][data-actor="otto"]') !== null`),
		waitJS(`document.querySelector('#audit-table tr[data-action="job.create"][data-actor="admin_token"]') !== null`),
	)
	shot(t, ctx, "job-history")
	run(t, ctx, "admin: the audit log, filtered, in Chinese",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/audit"),
		waitJS(`document.querySelector("h1").textContent.includes("审计日志")`),
		chromedp.SendKeys(`input[name=actor]`, "otto", chromedp.ByQuery),
		chromedp.Click(`.filters button[type=submit]`, chromedp.ByQuery),
		waitJS(`location.search.includes("actor=otto") && document.querySelectorAll("#audit-table tbody tr").length === 4`), // login.ok, queue.resume, run.now, logout
		waitJS(`document.querySelector('#audit-table tr[data-action="login.ok"]') !== null && document.querySelector('a[data-export=csv]').href.includes("actor=otto")`),
		chromedp.Navigate(srv.url+"/admin/lang?to=en&next=/admin/"),
	)
	run(t, ctx, "admin: add a user",
		chromedp.Navigate(srv.url+"/admin/users"),
		chromedp.WaitVisible(`#user-add`, chromedp.ByQuery),
		chromedp.SendKeys(`#user-add input[name=username]`, "li.lei", chromedp.ByQuery),
		chromedp.SendKeys(`#user-add input[name=display_name]`, "李雷", chromedp.ByQuery),
		setSelect(`#user-add select[name=role]`, "operator"),
		chromedp.SendKeys(`#user-add input[name=password]`, "li lei's password", chromedp.ByQuery),
		chromedp.Click(`[data-action=add-user]`, chromedp.ByQuery),
		waitJS(`document.querySelector('#user-li\\.lei[data-role="operator"]') !== null && document.querySelector(".flash-success") !== null`),
		setSelect(`#user-li\.lei select[name=role]`, "viewer"),
		chromedp.Click(`#user-li\.lei [data-action=set-role]`, chromedp.ByQuery),
		waitJS(`document.querySelector('#user-li\\.lei[data-role="viewer"]') !== null`),
		chromedp.Click(`#user-li\.lei [data-oidc-link] input[name=allow]`, chromedp.ByQuery),
		chromedp.Click(`#user-li\.lei [data-action=oidc-link]`, chromedp.ByQuery),
		waitJS(`document.querySelector('#user-li\\.lei [data-oidc-link="true"] input[name=allow]:checked') !== null &&
			document.querySelector(".flash").textContent.includes("li.lei will be linked")`),
		chromedp.Click(`#user-li\.lei [data-action=disable]`, chromedp.ByQuery),
		waitJS(`document.querySelector('#user-li\\.lei[data-disabled="true"]') !== null`),
	)
	shot(t, ctx, "users")
	run(t, ctx, "admin: the users page in Chinese",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/users"),
		waitJS(`document.querySelector("h1").textContent.includes("用户") && document.body.textContent.includes("已停用") &&
			document.body.textContent.includes("允许下次 OIDC 登录时关联")`),
		chromedp.Navigate(srv.url+"/admin/lang?to=en&next=/admin/account"),
		chromedp.WaitVisible(`#token-form`, chromedp.ByQuery),
		chromedp.SendKeys(`#token-form input[name=name]`, "ci-ada", chromedp.ByQuery),
		chromedp.Click(`#token-form button`, chromedp.ByQuery),
		waitJS(`document.querySelector("#new-token [data-secret]") && document.querySelector("#new-token [data-secret]").textContent.startsWith("chu_")`),
	)
	var secret string
	run(t, ctx, "read the token", chromedp.Text(`#new-token [data-secret]`, &secret, chromedp.ByQuery))
	req, _ := http.NewRequest(http.MethodGet, srv.url+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me struct{ User, Role string }
	_ = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || me.User != "ada" || me.Role != "admin" {
		t.Errorf("the personal token acts as %+v (%d), want ada, admin", me, resp.StatusCode)
	}
	run(t, ctx, "admin: revoke the token",
		chromedp.Navigate(srv.url+"/admin/account"),
		chromedp.Click(`#tokens-table button`, chromedp.ByQuery),
		waitJS(`document.querySelector(".flash-info") !== null && document.querySelector("#tokens-table") === null`),
	)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a revoked personal token got %d, want 401", resp.StatusCode)
	}
}
