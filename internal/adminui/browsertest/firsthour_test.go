package browsertest_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connecthub/connecthub/handler"
)

// silentHandler logs nothing and waits for the test: its live log must stop
// waiting for output once the run ended.
func silentHandler(g *gate) handler.Spec {
	return handler.Spec{
		Name: "demo.silent",
		Func: func(ctx context.Context, _ *handler.Task) (*handler.Result, error) {
			select {
			case <-g.ch:
				return &handler.Result{Message: "done"}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	}
}

// login signs the tab in through the login form and lands on the
// dashboard.
func login(t *testing.T, ctx context.Context, srv *serveProc) {
	t.Helper()
	loginAt(t, ctx, srv, "/admin/")
}

// loginAt opens path (an admin page, with a query or without), signs the
// tab in on the login form it is sent to, and waits until it is back on
// path, query included, with the page loaded: the location changes as
// soon as the page's navigation commits, before its document is parsed,
// and a step that looks for one of its elements then found none.
func loginAt(t *testing.T, ctx context.Context, srv *serveProc, path string) {
	t.Helper()
	page, query, _ := strings.Cut(path, "?")
	if query != "" {
		query = "?" + query
	}
	run(t, ctx, "log in at "+path,
		chromedp.Navigate(srv.url+path),
		chromedp.WaitVisible(`input[name=password]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=username]`, "admin", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=password]`, testPassword, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		waitJS(`location.pathname === `+strconv.Quote(page)+` && location.search === `+strconv.Quote(query)+
			` && document.readyState === "complete"`),
	)
}

// englishSentence finds three English words in a row: what an untranslated
// sentence looks like, while names and code (public_cfg, {{secret.KEY}},
// Asia/Shanghai, GET) stand alone among Chinese text.
var englishSentence = regexp.MustCompile(`\b[A-Za-z]{2,}[,.;:]? [A-Za-z]{2,}[,.;:]? [A-Za-z]{2,}\b`)

// TestBrowserFirstHour: times carry their offset (the job's timezone, live
// log lines included), a silent run's log stops waiting once it ended, a
// job form with schema fields and a validation error reads entirely in
// Chinese, and unknown pages lead back.
func TestBrowserFirstHour(t *testing.T) {
	chromium := findChromium(t)
	g := &gate{ch: make(chan struct{}, 2)}
	srv := startServe(t, silentHandler(g))
	ctx := tab(t, newBrowser(t, chromium), 90*time.Second)
	login(t, ctx, srv)

	// A job in Kolkata (+05:30, unlike the server's Asia/Shanghai) that
	// calls the server's own liveness endpoint, and logs while it does.
	body := fmt.Sprintf(`{"id":"first.ping","handler":"httpcall","timezone":"Asia/Kolkata","cron_expr":"0 9 * * *","public_cfg":{"url":%q}}`, srv.url+"/health/live")
	if code, b := srv.api(t, http.MethodPost, "/api/v1/jobs", body); code != http.StatusCreated {
		t.Fatalf("create job: %d %s", code, b)
	}
	code, b := srv.api(t, http.MethodPost, "/api/v1/jobs/first.ping/run", "")
	if code != http.StatusAccepted {
		t.Fatalf("run job: %d %s", code, b)
	}
	runID := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(b)[1]
	run(t, ctx, "open the run",
		chromedp.Navigate(srv.url+"/admin/runs/"+runID),
		waitJS(`document.querySelector('[data-run-status="SUCCESS"]') !== null && document.querySelector("#run-log").textContent.includes("200 OK")`),
	)
	var zones []string
	var logText string
	run(t, ctx, "read times",
		chromedp.Evaluate(`[...document.querySelectorAll("time .tz")].map(e => e.textContent)`, &zones),
		chromedp.Text("#run-log", &logText, chromedp.ByID),
	)
	if len(zones) < 3 {
		t.Fatalf("the run page shows %d times, want its created, scheduled, started and finished times", len(zones))
	}
	for _, z := range zones {
		if z != "+05:30" {
			t.Errorf("a time shows %q, want the job's offset +05:30 and no abbreviation", z)
		}
	}
	lines := strings.Split(strings.TrimSpace(logText), "\n")
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+05:30 (INFO|WARN|ERROR) `)
	for _, l := range lines {
		if !stamp.MatchString(l) {
			t.Errorf("log line not in the job's timezone with its offset: %q", l)
		}
	}
	run(t, ctx, "the jobs list", chromedp.Navigate(srv.url+"/admin/jobs"), waitJS(`document.querySelector("time .tz") !== null`))
	run(t, ctx, "read the jobs list's times", chromedp.Evaluate(`[...document.querySelectorAll("time .tz")].map(e => e.textContent)`, &zones))
	for _, z := range zones {
		if !regexp.MustCompile(`^[+-]\d\d:\d\d$`).MatchString(z) {
			t.Errorf("jobs list: a time shows %q, want a UTC offset", z)
		}
	}
	shot(t, ctx, "times-with-offsets")

	// A silent run: the log waits for output while the run runs, and says
	// there was none once it ended, without a reload.
	if code, b := srv.api(t, http.MethodPost, "/api/v1/jobs", `{"id":"first.silent","handler":"demo.silent"}`); code != http.StatusCreated {
		t.Fatalf("create silent job: %d %s", code, b)
	}
	_, b = srv.api(t, http.MethodPost, "/api/v1/jobs/first.silent/run", "")
	silentID := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(b)[1]
	run(t, ctx, "a silent run waits for output",
		chromedp.Navigate(srv.url+"/admin/runs/"+silentID),
		waitJS(`document.querySelector('[data-run-status="RUNNING"]') !== null`),
		waitJS(`document.querySelector("[data-log-empty]").textContent === "Waiting for output…"`),
		chromedp.Evaluate(`window.__sameDocument = true`, nil),
	)
	g.open()
	run(t, ctx, "and stops waiting when it ended",
		waitJS(`document.body.dataset.runEnded === "true" && document.querySelector('[data-run-status="SUCCESS"]') !== null`),
		waitJS(`document.querySelector("[data-log-empty]").textContent === "The handler logged nothing."`),
		waitJS(`window.__sameDocument === true`),
	)

	// Unknown pages: inside the admin, the layout with its navigation;
	// elsewhere, a page that leads to the admin UI and names the API.
	run(t, ctx, "an unknown admin page",
		chromedp.Navigate(srv.url+"/admin/nope"),
		waitJS(`document.querySelector(".error-code") && document.querySelector(".error-code").textContent === "404"`),
		waitJS(`document.querySelector('nav.mainnav a[href="/admin/jobs"]') !== null && document.querySelector('nav.mainnav a[href="/admin/runs"]') !== null`),
	)
	shot(t, ctx, "not-found")
	run(t, ctx, "an unknown address",
		chromedp.Navigate(srv.url+"/nope"),
		waitJS(`document.querySelector('a[href="/admin/"]') !== null && document.body.textContent.includes("/api/v1/")`),
		chromedp.Click(`a[href="/admin/"]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/" && document.querySelector("nav.mainnav") !== null`),
	)

	// The job form in Chinese, with a handler's schema fields and errors
	// the server found: no English sentence anywhere a reader looks.
	run(t, ctx, "the new job form in Chinese",
		chromedp.Navigate(srv.url+"/admin/lang?to=zh-CN&next="+"/admin/jobs/new"),
		waitJS(`document.documentElement.lang === "zh-CN" && document.querySelector("#id") !== null`),
		chromedp.SendKeys(`#id`, "zh.demo", chromedp.ByID),
		setSelect("#handler", "httpcall"),
		waitJS(`!document.querySelector('[data-schema-for="httpcall"]').hidden`),
		chromedp.SendKeys(`#cron_expr`, "61 * * * *", chromedp.ByID),
		setText("#timezone", "Mars/Olympus"),
		setText("#public_cfg", `{"url": "http://127.0.0.1:1/"}`),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`document.querySelectorAll(".field-error:not([hidden])").length >= 1 && document.body.textContent.includes("未知时区")`),
		setSelect("#handler", "httpcall"),
		waitJS(`!document.querySelector('[data-schema-for="httpcall"]').hidden`),
	)
	var text string
	run(t, ctx, "read the page", chromedp.Evaluate(`document.querySelector("main").innerText`, &text))
	for _, w := range []string{"发送一个 HTTP 请求", "请求方法，大写", "未知时区", "Mars/Olympus"} {
		if !strings.Contains(text, w) {
			t.Errorf("the zh-CN form lacks %q", w)
		}
	}
	if m := englishSentence.FindAllString(text, -1); len(m) > 0 {
		t.Errorf("the zh-CN job form shows English: %q\n%s", m, text)
	}
	shot(t, ctx, "job-form-zh-CN")

	// Fixed, but in a queue no node claims from: saved, with a warning
	// that reads in Chinese too.
	var flash string
	run(t, ctx, "save with a queue nobody serves",
		setText("#cron_expr", "0 2 * * *"),
		setText("#timezone", "Asia/Shanghai"),
		setText(`input[name="queue"]`, "elsewhere"),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs/zh.demo/edit" && document.querySelector(".flash") !== null`),
		chromedp.Text(".flash", &flash, chromedp.ByQuery),
	)
	if !strings.Contains(flash, "请注意") || !strings.Contains(flash, `"elsewhere"`) || englishSentence.MatchString(flash) {
		t.Errorf("the warning after a save is not in Chinese: %q", flash)
	}
}
