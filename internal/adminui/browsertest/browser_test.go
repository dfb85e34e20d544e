// Package browsertest_test holds the admin UI's browser tests: they drive a
// real headless Chromium against a real `connecthub serve`, started
// in-process. They need Debian's chromium (scripts/ensure-chromium.sh
// installs it; make test runs that script). Without it they skip, unless
// CONNECTHUB_TEST_STRICT=1, where a missing browser is a failure.
// They live in a package of their own so that the UI's handler tests do
// not depend on the whole program.
//
// With -screenshots (or CONNECTHUB_SCREENSHOTS=1) the run also fills a demo
// data set and saves screenshots of the main pages into docs/screenshots/.
package browsertest_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/cli"
)

var screenshots = flag.Bool("screenshots", false, "save screenshots of the main pages into docs/screenshots")

func wantScreenshots() bool { return *screenshots || os.Getenv("CONNECTHUB_SCREENSHOTS") == "1" }

// screenshotDir is docs/screenshots, from this package's directory.
var screenshotDir = filepath.Join("..", "..", "..", "docs", "screenshots")

// The server's credentials.
const (
	testToken    = "browser-test-admin-token-0123456789"
	testPassword = "correct horse battery staple"
)

// findChromium returns the browser to drive, or skips (fails when strict).
func findChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CONNECTHUB_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "chromium not found (looked for $CONNECTHUB_CHROMIUM, /usr/bin/chromium, /usr/bin/chromium-browser); " +
		"install it with scripts/ensure-chromium.sh to run the browser tests"
	if os.Getenv("CONNECTHUB_TEST_STRICT") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// gate lets the test decide when a run of the demo handler finishes, so the
// test can watch the run's log tail while it is RUNNING, without sleeps.
type gate struct {
	ch chan struct{}
}

func (g *gate) open() { g.ch <- struct{}{} }

// demoHandler is what the browser test schedules: it has a schema and a
// secret, logs a line that contains the secret (the run log must mask it),
// waits for the test, then logs its result.
func demoHandler(g *gate) handler.Spec {
	return handler.Spec{
		Name:         "demo.sync",
		Description:  "Syncs records to a partner API (test handler).",
		ConfigSchema: []byte(`{"type":"object","properties":{"url":{"type":"string","description":"The partner API."},"batch":{"type":"integer","description":"Records per request."}},"required":["url"],"additionalProperties":false}`),
		SecretKeys:   []string{"api_key"},
		Func: func(ctx context.Context, t *handler.Task) (*handler.Result, error) {
			t.Log.Info("connecting with key " + t.Secret("api_key"))
			select {
			case <-g.ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			t.Log.Info("synced 42 records")
			return &handler.Result{Message: "synced 42 records"}, nil
		},
	}
}

// failingHandler fails, for the screenshots' failures.
var failingHandler = handler.Spec{
	Name:        "demo.fail",
	Description: "Always fails (test handler).",
	Func: func(_ context.Context, t *handler.Task) (*handler.Result, error) {
		t.Log.Warn("partner API answered 503 Service Unavailable")
		return nil, errors.New("POST https://partner.example/api/members: 503 Service Unavailable")
	},
}

// serveProc is a `connecthub serve` started in-process, as the CLI's
// end-to-end tests start it.
type serveProc struct {
	url  string
	logs *lockedBuffer
	// dir is the server's data directory (CONNECTHUB_DATA_DIR).
	dir string
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startServe(t *testing.T, specs ...handler.Spec) *serveProc {
	t.Helper()
	return startServeWith(t, nil, specs...)
}

// startServeWith is startServe with extra environment variables.
func startServeWith(t *testing.T, extra map[string]string, specs ...handler.Spec) *serveProc {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{
		"CONNECTHUB_LISTEN":         "127.0.0.1:0",
		"CONNECTHUB_DATA_DIR":       dir,
		"CONNECTHUB_ADMIN_TOKEN":    testToken,
		"CONNECTHUB_ADMIN_PASSWORD": testPassword,
		"CONNECTHUB_TIMEZONE":       "Asia/Shanghai",
		"CONNECTHUB_LOG_FORMAT":     "text",
		"CONNECTHUB_HEARTBEAT":      "500ms",
	}
	maps.Copy(vars, extra)
	reg := handler.NewRegistry()
	for _, s := range specs {
		if err := reg.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &serveProc{logs: &lockedBuffer{}, dir: dir}
	ready := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, cli.Env{
			Args: []string{"serve"}, Getenv: func(k string) string { return vars[k] },
			Stdout: p.logs, Stderr: p.logs, Registry: reg, DotEnv: filepath.Join(dir, ".env-none"),
			Ready: func(addr string) { ready <- addr },
		})
	}()
	select {
	case addr := <-ready:
		p.url = "http://" + addr
	case code := <-done:
		t.Fatalf("serve exited with %d:\n%s", code, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", p.logs.String())
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Errorf("serve did not stop")
		}
	})
	return p
}

// api calls the REST API with the admin token.
func (p *serveProc) api(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// newBrowser starts one headless Chromium for the whole test, with a fresh
// profile. The background-networking flags keep it from calling home, which
// this machine's closed network refuses (and which would slow it down).
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("lang", "en-US"),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab opens a new tab in the browser, bounded by timeout.
func tab(t *testing.T, browser context.Context, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelT)
	return ctx
}

// run runs browser actions and fails the test with the step's name.
func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var loc string
		_ = chromedp.Run(context.WithoutCancel(ctx), chromedp.Location(&loc))
		t.Fatalf("%s: %v (page %s)", step, err, loc)
	}
}

// waitJS waits until the expression is truthy in the page. A navigation
// (a form post, a redirect) destroys the document a poll runs in; the wait
// then starts again on the new page.
func waitJS(expr string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		deadline := time.Now().Add(20 * time.Second)
		for {
			var ok bool
			err := chromedp.Poll(expr, &ok, chromedp.WithPollingTimeout(time.Until(deadline))).Do(ctx)
			if err == nil {
				return nil
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				return fmt.Errorf("waiting for %s: %w", expr, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// setSelect picks an option and fires change, as a person's click does.
func setSelect(sel, value string) chromedp.Action {
	return chromedp.Evaluate(fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, value), nil)
}

// setText replaces a field's text and fires input, as typing does.
func setText(sel, value string) chromedp.Action {
	return chromedp.Evaluate(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus(); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel, value), nil)
}

// html returns the page's whole HTML.
func html(t *testing.T, ctx context.Context) string {
	t.Helper()
	var s string
	run(t, ctx, "read page", chromedp.OuterHTML("html", &s, chromedp.ByQuery))
	return s
}

func TestBrowserFlow(t *testing.T) {
	chromium := findChromium(t)
	start := time.Now()
	g := &gate{ch: make(chan struct{}, 8)}
	srv := startServe(t, demoHandler(g), failingHandler)
	browser := newBrowser(t, chromium)
	ctx := tab(t, browser, 90*time.Second)
	const secretValue = "TOPSECRET-key-6f1d2c"
	var pages []string // HTML of every page visited, checked for the secret at the end
	keep := func() { pages = append(pages, html(t, ctx)) }

	// Log in: the dashboard sends a stranger to the login page and back.
	run(t, ctx, "open the UI",
		chromedp.Navigate(srv.url+"/admin/jobs"),
		chromedp.WaitVisible(`input[name=password]`, chromedp.ByQuery),
	)
	shot(t, ctx, "login")
	run(t, ctx, "log in",
		chromedp.SendKeys(`input[name=username]`, "admin", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=password]`, testPassword, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`a[href="/admin/jobs/new"]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs"`),
	)
	keep()

	// Create a job: invalid JSON shows the API's message inline and blocks
	// the save; the live preview follows the cron and the timezone.
	run(t, ctx, "open the new job form",
		chromedp.Navigate(srv.url+"/admin/jobs/new"),
		chromedp.WaitVisible(`#id`, chromedp.ByID),
		chromedp.SendKeys(`#id`, "demo.sync", chromedp.ByID),
		setSelect("#handler", "demo.sync"),
		waitJS(`!document.querySelector('[data-schema-for="demo.sync"]').hidden`),
		chromedp.SendKeys(`#cron_expr`, "30 9 * * 1-5", chromedp.ByID),
		waitJS(`document.querySelectorAll("#cron-preview li").length === 5 && document.querySelector("#cron-preview").textContent.includes("09:30:00")`),
		setText("#timezone", "Europe/Berlin"),
		waitJS(`document.querySelector("#cron-preview").textContent.includes("Europe/Berlin") && document.querySelectorAll("#cron-preview li").length === 5`),
		setText("#public_cfg", `{"url": `),
		chromedp.SendKeys(`#secret_cfg`, `{"api_key": "`+secretValue+`"}`, chromedp.ByID),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`(() => { const e = document.querySelector('[data-json-error="public_cfg"]'); return !e.hidden && e.textContent.includes("public_cfg must be a JSON object"); })()`),
	)
	var path string
	run(t, ctx, "still on the form", chromedp.Evaluate(`location.pathname`, &path))
	if path != "/admin/jobs/new" {
		t.Fatalf("an invalid form was submitted: now on %s", path)
	}
	shot(t, ctx, "job-form-error")

	// Fix the JSON: the error goes, and the schema's fields follow the JSON.
	run(t, ctx, "fix and save",
		setText("#public_cfg", `{"url": "https://partner.example/api", "batch": 42}`),
		waitJS(`document.querySelector('[data-json-error="public_cfg"]').hidden`),
		waitJS(`document.querySelector('[data-schema-for="demo.sync"] [data-cfg-key="url"]').value === "https://partner.example/api"`),
		chromedp.Click(`button[data-action=save]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs/demo.sync/edit"`),
		chromedp.WaitVisible(`.flash-success`, chromedp.ByQuery),
		// The saved job's next fire times, in its timezone.
		waitJS(`document.querySelectorAll("#cron-preview li").length === 5 && document.querySelector("#cron-preview").textContent.includes("Europe/Berlin")`),
	)
	if h := html(t, ctx); !strings.Contains(h, `<span class="chip chip-key">api_key</span>`) {
		t.Error("the edit page does not list the secret key that is set")
	}
	keep()

	// Run it now and watch the log tail live until SUCCESS.
	run(t, ctx, "run now",
		chromedp.Click(`button[data-action=run-now]`, chromedp.ByQuery),
		waitJS(`location.pathname.startsWith("/admin/runs/")`),
		waitJS(`document.querySelector("#run-log").textContent.includes("connecting with key")`),
		waitJS(`document.querySelector('[data-run-status="RUNNING"]') !== null`),
		chromedp.Evaluate(`window.__sameDocument = true`, nil),
	)
	if h := html(t, ctx); strings.Contains(h, secretValue) || !strings.Contains(h, "connecting with key ******") {
		t.Error("the live log does not mask the secret")
	}
	shot(t, ctx, "run-live")
	g.open()
	run(t, ctx, "log tails until SUCCESS",
		waitJS(`document.querySelector("#run-log").textContent.includes("synced 42 records")`),
		waitJS(`document.body.dataset.runEnded === "true" && document.querySelector('[data-run-status="SUCCESS"]') !== null`),
		waitJS(`window.__sameDocument === true`), // tailed in place, not reloaded
		waitJS(`!document.querySelector("button[data-action=retry]").disabled`),
		// A line that came through the live tail is in the job's timezone
		// (Europe/Berlin) with its offset, like the rest of the page.
		waitJS(`/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+0[12]:00 INFO synced 42 records/.test(document.querySelector("#run-log").textContent)`),
	)
	var firstRun string
	run(t, ctx, "first run id", chromedp.Evaluate(`location.pathname.split("/").pop()`, &firstRun))
	keep()
	shot(t, ctx, "run-detail")

	// Retry it: a new run from the snapshot, trigger retry.
	g.open() // let the retry finish too
	run(t, ctx, "retry",
		chromedp.Click(`button[data-action=retry]`, chromedp.ByQuery),
		waitJS(fmt.Sprintf(`location.pathname.startsWith("/admin/runs/") && !location.pathname.endsWith(%q)`, firstRun)),
		waitJS(fmt.Sprintf(`document.querySelector('a[href="/admin/runs/%s"]') !== null`, firstRun)), // "retry of" link
		waitJS(`document.querySelector('[data-run-status="SUCCESS"]') !== null`),
	)
	keep()

	// The lists, too, never show the secret.
	for _, p := range []string{"/admin/", "/admin/runs", "/admin/jobs", "/admin/runs?job_id=demo.sync"} {
		run(t, ctx, "visit "+p, chromedp.Navigate(srv.url+p), chromedp.WaitVisible(`main`, chromedp.ByQuery))
		keep()
	}
	for i, h := range pages {
		if strings.Contains(h, secretValue) {
			t.Errorf("page %d shows the secret value", i)
		}
	}

	// Delete it, after a confirmation that names what goes.
	run(t, ctx, "delete",
		chromedp.Navigate(srv.url+"/admin/jobs/demo.sync/edit"),
		chromedp.Click(`a[data-action=delete]`, chromedp.ByQuery),
		waitJS(`document.querySelector(".confirm-what").textContent.includes("demo.sync together with its runs (2)")`),
	)
	shot(t, ctx, "confirm-delete")
	run(t, ctx, "confirm delete",
		chromedp.Click(`button[data-action=confirm]`, chromedp.ByQuery),
		waitJS(`location.pathname === "/admin/jobs" && document.querySelector(".flash-success") !== null`),
		waitJS(`document.querySelector(".empty") !== null`),
	)
	if code, _ := srv.api(t, http.MethodGet, "/api/v1/jobs/demo.sync", ""); code != http.StatusNotFound {
		t.Fatalf("after delete, GET job: %d", code)
	}

	// A cross-site POST is refused: a page on another origin makes this
	// logged-in browser submit a delete.
	if code, body := srv.api(t, http.MethodPost, "/api/v1/jobs", `{"id":"victim","handler":"noop"}`); code != http.StatusCreated {
		t.Fatalf("create victim: %d %s", code, body)
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/admin/jobs/victim/delete"><input name="csrf_token" value="guess"></form>
<script>document.forms[0].submit()</script>`, srv.url)
	}))
	defer evil.Close()
	attack := tab(t, browser, 30*time.Second)
	run(t, attack, "cross-site post",
		chromedp.Navigate(evil.URL),
		waitJS(fmt.Sprintf(`location.href.startsWith(%q) && document.body && document.body.textContent.includes("Cross-site request refused")`, srv.url)),
	)
	if code, _ := srv.api(t, http.MethodGet, "/api/v1/jobs/victim", ""); code != http.StatusOK {
		t.Fatalf("the cross-site POST deleted the job (GET: %d)", code)
	}

	if wantScreenshots() {
		gallery(t, browser, srv, g)
	}
	t.Logf("browser flow took %s", time.Since(start).Round(time.Millisecond))
}
