package browsertest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connecthub/connecthub/internal/notify/notifytest"
)

// TestBrowserNotify drives the notification pages: a DingTalk channel made
// in the form (its token and secret never shown again), "send test" to a
// receiver that checks the signature, the delivery log, a rule whose bad
// threshold is shown at its field, the job form's "notify on failure"
// shortcut, and the pages in Chinese.
func TestBrowserNotify(t *testing.T) {
	chromium := findChromium(t)
	ding := notifytest.DingTalk(t, "tok-browser-77", "SEC-browser-secret")
	srv := startServe(t, failingHandler)
	ctx := tab(t, newBrowser(t, chromium), 90*time.Second)

	loginAt(t, ctx, srv, "/admin/notify/channels")
	run(t, ctx, "no channel yet",
		waitJS(`location.pathname === "/admin/notify/channels" && document.querySelector(".empty") !== null`),
	)
	run(t, ctx, "create a DingTalk channel",
		chromedp.Navigate(srv.url+"/admin/notify/channels/new"),
		chromedp.WaitVisible(`#channel-form`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=name]`, "ops-dingtalk", chromedp.ByQuery),
		setSelect(`select[name=type]`, "dingtalk"),
		setSelect(`select[name=language]`, "en"),
		setText(`input[name=url]`, ding.URL+"/robot/send?access_token=tok-browser-77"),
		chromedp.SendKeys(`input[name=secret]`, "SEC-browser-secret", chromedp.ByQuery),
	)
	fullShot(t, ctx, "notify-channel-dingtalk")
	run(t, ctx, "save the DingTalk channel",
		chromedp.EmulateViewport(1366, 900),
		chromedp.Click(`#channel-form button[type=submit]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/notify/channels" && document.querySelector(".flash-success") !== null`),
		waitJS(`document.querySelector("#channels-table").textContent.includes("access_token=******")`),
	)
	shot(t, ctx, "notify-channels")
	if h := html(t, ctx); strings.Contains(h, "tok-browser-77") || strings.Contains(h, "SEC-browser-secret") {
		t.Fatal("the channels page shows the access token or the secret")
	}
	run(t, ctx, "edit keeps the secret",
		chromedp.Navigate(srv.url+"/admin/notify/channels/ops-dingtalk/edit"),
		chromedp.WaitVisible(`#channel-form`, chromedp.ByQuery),
	)
	if h := html(t, ctx); strings.Contains(h, "tok-browser-77") || strings.Contains(h, "SEC-browser-secret") {
		t.Fatal("the channel form shows the access token or the secret")
	}
	run(t, ctx, "save unchanged",
		chromedp.Click(`#channel-form button[type=submit]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/notify/channels" && document.querySelector(".flash-success") !== null`),
		chromedp.Click(`button[data-action="test-ops-dingtalk"]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/notify/deliveries"`),
	)
	select {
	case <-ding.Got:
	case <-time.After(30 * time.Second):
		t.Fatalf("the test message never reached the receiver (%d requests)", ding.Requests())
	}
	run(t, ctx, "the log shows it sent",
		chromedp.Navigate(srv.url+"/admin/notify/deliveries?status=sent"),
		waitJS(`document.querySelector("#deliveries-table") !== null && document.querySelector("#deliveries-table").textContent.includes("errcode")`),
	)
	shot(t, ctx, "notify-deliveries")

	run(t, ctx, "a rule with a bad threshold",
		chromedp.Navigate(srv.url+"/admin/notify/rules/new"),
		chromedp.WaitVisible(`#rule-form`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=name]`, "payroll runs long", chromedp.ByQuery),
		setSelect(`select[name=event]`, "long_running"),
		setText(`input[name=threshold]`, "soon"),
		setText(`input[name=job]`, "payroll.*"),
		chromedp.Click(`input[name=channels][value="ops-dingtalk"]`, chromedp.ByQuery),
		chromedp.Click(`#rule-form button[type=submit]`, chromedp.ByQuery),
		waitJS(`document.querySelector(".has-error input[name=threshold]") !== null`),
	)
	run(t, ctx, "fix it",
		setText(`input[name=threshold]`, "3x"),
		chromedp.Click(`#rule-form button[type=submit]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/notify/rules" && document.querySelector("#rules-table").textContent.includes("payroll runs long")`),
	)
	run(t, ctx, "the email channel form for the docs",
		chromedp.Navigate(srv.url+"/admin/notify/channels/new"),
		chromedp.WaitVisible(`#channel-form`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=name]`, "ops-mail", chromedp.ByQuery),
		setSelect(`select[name=type]`, "email"),
		chromedp.WaitVisible(`input[name=smtp_host]`, chromedp.ByQuery),
		setText(`input[name=smtp_host]`, "smtp.example.com"),
		setText(`input[name=smtp_port]`, "587"),
		setText(`input[name=smtp_username]`, "hub@example.com"),
		chromedp.SendKeys(`input[name=smtp_password]`, "app-password-of-the-mailbox", chromedp.ByQuery),
		setText(`input[name=smtp_from]`, "ConnectHub <hub@example.com>"),
		setText(`textarea[name=smtp_to]`, "ops@example.com"),
	)
	fullShot(t, ctx, "notify-channel-email")
	run(t, ctx, "the rule form for the docs",
		chromedp.EmulateViewport(1366, 900),
		chromedp.Navigate(srv.url+"/admin/notify/rules/new?job=payroll.monthly"),
		chromedp.WaitVisible(`#rule-form`, chromedp.ByQuery),
		setText(`input[name=name]`, "payroll failures"),
		chromedp.Click(`input[name=channels][value="ops-dingtalk"]`, chromedp.ByQuery),
	)
	fullShot(t, ctx, "notify-rule-form")

	if code, body := srv.api(t, http.MethodPost, "/api/v1/jobs", `{"id":"payroll.monthly","handler":"demo.fail"}`); code != http.StatusCreated {
		t.Fatalf("create job: %d %s", code, body)
	}
	run(t, ctx, "notify on failure from the job form",
		chromedp.EmulateViewport(1366, 900),
		chromedp.Navigate(srv.url+"/admin/jobs/payroll.monthly/edit"),
		chromedp.WaitVisible(`#notify-shortcut select[name=channel]`, chromedp.ByQuery),
		setSelect(`#notify-shortcut select[name=channel]`, "ops-dingtalk"),
		chromedp.Click(`#notify-shortcut button[type=submit]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs/payroll.monthly/edit" && document.querySelector(".flash-success") !== null`),
		waitJS(`document.querySelector("#notify-shortcut select[name=channel]").value === "ops-dingtalk"`),
		chromedp.ScrollIntoView(`#notify-shortcut`, chromedp.ByQuery),
	)
	shot(t, ctx, "notify-job-shortcut")
	if _, body := srv.api(t, http.MethodGet, "/api/v1/alert-rules", ""); !strings.Contains(body, `"name":"job payroll.monthly failures"`) ||
		!strings.Contains(body, `"job":"payroll.monthly"`) {
		t.Fatalf("the shortcut made no rule for the job: %s", body)
	}
	run(t, ctx, "in Chinese",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next=/admin/notify/rules"),
		waitJS(`document.querySelector("h1").textContent.includes("告警规则") && document.querySelector("#rules-table").textContent.includes("运行过长")`),
		chromedp.Navigate(srv.url+"/admin/notify/deliveries"),
		waitJS(`document.querySelector("h1").textContent.includes("发送记录") && document.querySelector("#deliveries-table").textContent.includes("已发送")`),
	)
	shot(t, ctx, "notify-deliveries-zh")
}
