package adminui_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/auth"
)

func TestLoginRequiredAndRedirectBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	for _, path := range []string{"/admin/", "/admin/jobs?q=x", "/admin/runs", "/admin/nodes", "/admin/jobs/new"} {
		p := b.get(path)
		if p.status != http.StatusSeeOther {
			t.Fatalf("%s without login: status %d, want 303", path, p.status)
		}
		want := "/admin/login?next=" + url.QueryEscape(path)
		if loc := p.header.Get("Location"); loc != want {
			t.Errorf("%s: Location %q, want %q", path, loc, want)
		}
	}
	// htmx requests get HX-Redirect instead of a redirect htmx would follow
	// and swap into the page.
	p := b.get("/admin/jobs", "HX-Request", "true")
	if p.status != http.StatusNoContent || !strings.HasPrefix(p.header.Get("HX-Redirect"), "/admin/login") {
		t.Errorf("htmx without login: status %d HX-Redirect %q", p.status, p.header.Get("HX-Redirect"))
	}
	// The site root leads to the UI.
	if p := b.get("/"); p.status != http.StatusFound || p.header.Get("Location") != "/admin/" {
		t.Errorf("GET /: status %d Location %q", p.status, p.header.Get("Location"))
	}
}

func TestLoginSetsASafeCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	p := b.tryLogin("admin", testPassword)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/" {
		t.Fatalf("login: status %d Location %q", p.status, p.header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == auth.DefaultCookieName {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure || session.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP, Path=/", session)
	}
	if session.MaxAge != int((12 * time.Hour).Seconds()) {
		t.Errorf("MaxAge %d, want the default 12h", session.MaxAge)
	}
	if strings.Contains(session.Value, testPassword) || strings.Contains(session.Value, testToken) {
		t.Error("the cookie carries a credential")
	}
	// The login page of a logged-in person goes straight on.
	if p := b.get("/admin/login?next=/admin/runs"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/runs" {
		t.Errorf("login page when logged in: %d %q", p.status, p.header.Get("Location"))
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	for _, tc := range []struct {
		name, user, pass string
	}{
		{"wrong password", "admin", "nope"},
		{"wrong user", "root", testPassword},
		{"admin token is not the password when one is set", "admin", testToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			p := b.tryLogin(tc.user, tc.pass)
			if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong username or password.") {
				t.Fatalf("status %d, body lacks the failure message", p.status)
			}
			if strings.Contains(p.body, tc.pass) {
				t.Error("the password was echoed")
			}
		})
	}
	t.Run("form without its nonce", func(t *testing.T) {
		b := e.browser()
		p := b.post("/admin/login", url.Values{"username": {"admin"}, "password": {testPassword}, "login_nonce": {"forged"}})
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "The login form expired") {
			t.Fatalf("status %d", p.status)
		}
	})
	t.Run("open redirect is refused", func(t *testing.T) {
		b := e.browser()
		form := b.get("/admin/login")
		nonce := nonceRE.FindStringSubmatch(form.body)[1]
		p := b.post("/admin/login", url.Values{"username": {"admin"}, "password": {testPassword}, "login_nonce": {nonce},
			"next": {"https://evil.example/phish"}})
		if loc := p.header.Get("Location"); loc != "/admin/" {
			t.Fatalf("Location %q, want /admin/", loc)
		}
	})
}

func TestLoginIsRateLimitedPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{limit: auth.LimiterConfig{Burst: 2, Every: time.Minute}})
	b := e.browser()
	for i := range 2 {
		if p := b.tryLogin("admin", "wrong"); p.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d", i+1, p.status)
		}
	}
	// Even the right password is refused while limited.
	p := b.tryLogin("admin", testPassword)
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "60" {
		t.Fatalf("limited attempt: status %d Retry-After %q", p.status, p.header.Get("Retry-After"))
	}
	if !strings.Contains(p.body, "Try again in 60 seconds") {
		t.Error("the page does not say when to try again")
	}
	e.clk.Advance(time.Minute)
	if p := b.tryLogin("admin", testPassword); p.status != http.StatusSeeOther {
		t.Fatalf("after waiting: status %d", p.status)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	b.login()
	// Keep a copy of the cookie, as a thief would.
	u, _ := url.Parse(e.srv.URL)
	stolen := b.c.Jar.Cookies(u)
	p := b.post("/admin/logout", nil)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/login" {
		t.Fatalf("logout: %d %q", p.status, p.header.Get("Location"))
	}
	if p := b.get("/admin/"); p.status != http.StatusSeeOther {
		t.Fatalf("after logout: status %d", p.status)
	}
	if p := b.get("/admin/login"); !strings.Contains(p.body, "You have logged out.") {
		t.Error("no logged-out message")
	}
	thief := e.browser()
	thief.c.Jar.SetCookies(u, stolen)
	if p := thief.get("/admin/"); p.status != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout: status %d", p.status)
	}
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	e.createJob(`{"id":"nightly.export","handler":"test.noop","cron_expr":"0 2 * * *","description":"Exports at night"}`)
	run := e.finishedRun("nightly.export", "line one\nline two\n", connecthub.StatusFailure, "boom: it broke")
	b := e.browser()
	b.login()
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/admin/", []string{"Runs in the last 24 hours", "Recent failures", "boom: it broke", "executes runs in its own worker pool"}},
		{"/admin/jobs", []string{"nightly.export", "Exports at night", "0 2 * * *", "Next:", "Asia/Shanghai"[:0]}},
		{"/admin/jobs/nightly.export/edit", []string{"Run now", "Purge finished runs", "Next fire times (Asia/Shanghai)", "02:00:00"}},
		{"/admin/jobs/new", []string{"New job", "test.schema", "Fields of test.schema", "Where to send it."}},
		{"/admin/runs", []string{run.ID, "nightly.export", "boom: it broke"}},
		{"/admin/runs?status=FAILURE&job_id=nightly.export", []string{run.ID}},
		{"/admin/runs/" + run.ID, []string{"line one\nline two", "boom: it broke", "Retry", "Snapshot"}},
		{"/admin/nodes", []string{"No node registry yet", "test-node"}},
	} {
		p := b.get(tc.path)
		if p.status != http.StatusOK {
			t.Errorf("%s: status %d", tc.path, p.status)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("%s lacks %q", tc.path, w)
			}
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
	}
	// Times show in the job's timezone with the UTC instant on hover.
	p := b.get("/admin/jobs")
	if !regexp.MustCompile(`<time datetime="[^"]+Z" title="[^"]+ UTC">[^<]+ <span class="tz">\+08:00</span></time>`).MatchString(p.body) {
		t.Error("jobs page: next run time is not shown in the job's timezone with the UTC time on hover")
	}
}

func TestEmptyStatesSayWhatToDo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	b.login()
	for path, want := range map[string]string{
		"/admin/":              "Create your first job",
		"/admin/jobs":          "Create your first job",
		"/admin/jobs?q=zzz":    "Show all jobs",
		"/admin/runs":          "Go to the jobs",
		"/admin/runs?job_id=x": "No run matches",
	} {
		if p := b.get(path); !strings.Contains(p.body, want) {
			t.Errorf("%s lacks %q", path, want)
		}
	}
}

// TestEverythingShownIsEscaped: a job description, a log line and an error
// containing markup render as text.
func TestEverythingShownIsEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	const evil = `<script>alert("pwned")</script>`
	e.createJob(`{"id":"xss","handler":"test.noop","description":"` + strings.ReplaceAll(evil, `"`, `\"`) + `"}`)
	run := e.finishedRun("xss", "log says "+evil+"\n", connecthub.StatusFailure, "error says "+evil)
	b := e.browser()
	b.login()
	for _, path := range []string{"/admin/", "/admin/jobs", "/admin/jobs/xss/edit", "/admin/runs", "/admin/runs/" + run.ID} {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: status %d", path, p.status)
		}
		if strings.Contains(p.body, "<script>alert") {
			t.Errorf("%s renders the script as markup", path)
		}
		if !strings.Contains(p.body, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
			t.Errorf("%s does not show the script as text", path)
		}
	}
	// The log stream carries text as JSON strings, for textContent.
	p := b.get("/admin/runs/" + run.ID + "/log?offset=0")
	if !strings.Contains(p.body, `data: "log says \u003cscript\u003ealert(\"pwned\")\u003c/script\u003e\n"`) {
		t.Errorf("log stream:\n%s", p.body)
	}
}

func TestCSRFProtection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	e.createJob(`{"id":"victim","handler":"test.noop"}`)
	b := e.browser()
	b.login()
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no token", url.Values{"csrf_token": {""}}, nil},
		{"wrong token", url.Values{"csrf_token": {"forged"}}, nil},
		{"another session's token", url.Values{"csrf_token": {otherSessionToken(t, e)}}, nil},
		{"cross-site with the right token", nil, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
		{"cross-origin without fetch metadata", nil, []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/admin/jobs/victim/delete", tc.form, tc.headers...)
			if p.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", p.status)
			}
			if !strings.Contains(p.body, "another site") && !strings.Contains(p.body, "Cross-site request refused") {
				t.Errorf("the 403 page does not explain:\n%s", p.body)
			}
			if !e.jobExists("victim") {
				t.Fatal("the forged request deleted the job")
			}
		})
	}
	// The same request from the UI's own page works.
	if p := b.post("/admin/jobs/victim/delete", nil); p.status != http.StatusSeeOther {
		t.Fatalf("legitimate delete: status %d", p.status)
	}
	if e.jobExists("victim") {
		t.Fatal("legitimate delete did not delete")
	}
}

func otherSessionToken(t *testing.T, e *env) string {
	t.Helper()
	other := e.browser()
	other.login()
	return other.csrf
}

// TestAPIAcceptsTheSessionCookie: the API takes the admin session cookie, so
// the UI's scripts can call it, and then unsafe methods also need the CSRF
// token, so that a page on another site cannot make the browser call it.
func TestAPIAcceptsTheSessionCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	if p := b.get("/api/v1/jobs"); p.status != http.StatusUnauthorized {
		t.Fatalf("API without session: %d", p.status)
	}
	b.login()
	if p := b.get("/api/v1/jobs"); p.status != http.StatusOK {
		t.Fatalf("API GET with session: %d", p.status)
	}
	post := func(headers ...string) page {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/jobs", strings.NewReader(`{"id":"via-api","handler":"test.noop"}`))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return b.do(req)
	}
	if p := post(); p.status != http.StatusForbidden || !strings.Contains(p.body, "csrf_failed") {
		t.Fatalf("API POST with session, no CSRF token: %d %s", p.status, p.body)
	}
	if p := post("X-CSRF-Token", "forged"); p.status != http.StatusForbidden {
		t.Fatalf("API POST with a wrong token: %d", p.status)
	}
	if p := post("X-CSRF-Token", b.csrf); p.status != http.StatusCreated {
		t.Fatalf("API POST with session and token: %d %s", p.status, p.body)
	}
}

func TestJobFormInlineErrorsAndSecretsNeverEchoed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	b.login()
	const secretValue = "s3cr3t-value-that-must-not-leak"
	base := url.Values{"id": {"form.job"}, "handler": {"test.schema"}, "enabled": {"true"}, "timezone": {"UTC"},
		"cron_expr": {"*/5 * * * *"}, "secret_cfg": {`{"api_key":"` + secretValue + `"}`}, "concurrency": {"forbid"}, "misfire": {"once"}}
	with := func(kv ...string) url.Values { return formWith(base, kv...) }
	for _, tc := range []struct {
		name      string
		form      url.Values
		field     string
		wantError string
	}{
		{"invalid JSON", with("public_cfg", `{"url": `), "public_cfg", "public_cfg must be a JSON object"},
		{"array", with("public_cfg", `["x"]`), "public_cfg", "public_cfg must be a JSON object"},
		{"null", with("public_cfg", `null`), "public_cfg", "public_cfg must be a JSON object"},
		{"secret not an object", with("public_cfg", `{"url":"http://x"}`, "secret_cfg", `"just a string"`), "secret_cfg", "secret_cfg must be a JSON object"},
		{"schema violation", with("public_cfg", `{"batch": 3}`), "public_cfg", "does not match the schema"},
		{"bad cron", with("public_cfg", `{"url":"http://x"}`, "cron_expr", "61 * * * *"), "cron_expr", "61"},
		{"bad timezone", with("public_cfg", `{"url":"http://x"}`, "timezone", "Mars/Olympus"), "timezone", "unknown timezone"},
		{"bad id", with("public_cfg", `{"url":"http://x"}`, "id", "no spaces allowed"), "id", "id must be"},
		{"not a number", with("public_cfg", `{"url":"http://x"}`, "max_attempts", "three"), "max_attempts", "max_attempts must be an integer"},
		{"missing secret key", with("public_cfg", `{"url":"http://x"}`, "secret_cfg", `{"other":"x"}`), "secret_cfg", "missing key(s) api_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/admin/jobs", tc.form)
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", p.status)
			}
			if !strings.Contains(p.body, tc.wantError) {
				t.Fatalf("the page lacks %q", tc.wantError)
			}
			if !errorNextTo(p.body, tc.field, tc.wantError) {
				t.Errorf("the error is not shown next to the %s field", tc.field)
			}
			if strings.Contains(p.body, secretValue) {
				t.Fatal("the secret was echoed back into the page")
			}
			if strings.Contains(tc.form.Get("secret_cfg"), "api_key") && !strings.Contains(p.body, "were not kept") {
				t.Error("the page does not say the typed secrets must be entered again")
			}
			if e.jobExists("form.job") {
				t.Fatal("an invalid job was saved")
			}
		})
	}

	// The fixed form saves, and no page ever shows the secret.
	p := b.post("/admin/jobs", with("public_cfg", `{"url":"http://example.test","mode":"fast"}`))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/jobs/form.job/edit" {
		t.Fatalf("valid create: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	edit := b.get("/admin/jobs/form.job/edit")
	if !strings.Contains(edit.body, "Job form.job created.") || !strings.Contains(edit.body, `<span class="chip chip-key">api_key</span>`) {
		t.Error("the edit page does not confirm the save or list the secret's key")
	}
	run := e.finishedRun("form.job", "", connecthub.StatusSuccess, "")
	for _, path := range []string{"/admin/", "/admin/jobs", "/admin/jobs/form.job/edit", "/admin/runs", "/admin/runs/" + run.ID, "/api/v1/jobs/form.job"} {
		if p := b.get(path); strings.Contains(p.body, secretValue) {
			t.Errorf("%s shows the secret", path)
		}
	}

	// Saving the edit form with the secret editor empty keeps the secret.
	upd := with("public_cfg", `{"url":"http://example.test/v2"}`, "secret_cfg", "", "description", "now v2")
	if p := b.post("/admin/jobs/form.job/edit", upd); p.status != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", p.status, p.body)
	}
	j, err := e.svc.JobGet(context.Background(), "form.job")
	if err != nil {
		t.Fatal(err)
	}
	if !j.HasSecret || j.Description != "now v2" || string(j.PublicCfg) != `{"url":"http://example.test/v2"}` {
		t.Errorf("after update: has_secret %v, description %q, public_cfg %s", j.HasSecret, j.Description, j.PublicCfg)
	}
	if p := b.post("/admin/jobs", with("public_cfg", `{"url":"http://x"}`)); !errorNextTo(p.body, "id", "already exists") {
		t.Error("a duplicate id is not reported at the id field")
	}
}

// errorNextTo reports whether msg appears in the error element of field:
// after the field's input and before the next field's label.
func errorNextTo(body, field, msg string) bool {
	i := strings.Index(body, `name="`+field+`"`)
	if i < 0 {
		return false
	}
	rest := body[i:]
	if j := strings.Index(rest[1:], `<label class="field`); j >= 0 {
		rest = rest[:j+1]
	}
	k := strings.Index(rest, `class="field-error"`)
	return k >= 0 && strings.Contains(rest[k:], msg)
}

func TestCronPreview(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	b.login()
	p := b.get("/admin/cron/preview?cron_expr=" + url.QueryEscape("30 9 * * *") + "&timezone=Asia/Shanghai")
	if n := strings.Count(p.body, "<li>"); n != 5 {
		t.Fatalf("preview lists %d times, want 5:\n%s", n, p.body)
	}
	if strings.Count(p.body, "09:30:00 <span class=\"tz\">+08:00</span>") != 5 || strings.Count(p.body, "01:30:00 UTC") != 5 {
		t.Errorf("times not in the job's timezone with UTC on hover:\n%s", p.body)
	}
	for q, want := range map[string]string{
		"cron_expr=" + url.QueryEscape("99 * * * *"):                      "99",
		"cron_expr=" + url.QueryEscape("* * * * *") + "&timezone=Nowhere": "unknown timezone",
		"cron_expr=": "runs only when someone runs it",
		"cron_expr=" + url.QueryEscape("<b>x</b>"): "&lt;b&gt;",
	} {
		if p := b.get("/admin/cron/preview?" + q); !strings.Contains(p.body, want) {
			t.Errorf("preview?%s lacks %q:\n%s", q, want, p.body)
		}
	}
}

func TestJobActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	e.createJob(`{"id":"act","handler":"test.noop","cron_expr":"@hourly"}`)
	e.finishedRun("act", "", connecthub.StatusSuccess, "")
	e.finishedRun("act", "", connecthub.StatusFailure, "x")
	b := e.browser()
	b.login()

	// Disable from the table with htmx: the row comes back in place.
	p := b.post("/admin/jobs/act/disable", url.Values{"return": {"/admin/jobs"}}, "HX-Request", "true")
	if p.status != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(p.body), `<tr id="job-act">`) || !strings.Contains(p.body, `aria-checked="false"`) {
		t.Fatalf("htmx disable: %d\n%s", p.status, p.body)
	}
	if j, _ := e.svc.JobGet(context.Background(), "act"); j.Enabled || j.NextRunAt != nil {
		t.Fatalf("job still enabled: %+v", j)
	}
	// Enable with a plain form: back to where it came from.
	p = b.post("/admin/jobs/act/enable", url.Values{"return": {"/admin/jobs?q=act"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/jobs?q=act" {
		t.Fatalf("enable: %d %q", p.status, p.header.Get("Location"))
	}

	// Run now opens the new run.
	p = b.post("/admin/jobs/act/run", nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/admin/runs/") {
		t.Fatalf("run now: %d %q", p.status, p.header.Get("Location"))
	}
	// A form sent twice (its request_key, made when the page was shown,
	// comes along) opens the one run the first made.
	jobPage := b.get("/admin/jobs/act/edit")
	m := regexp.MustCompile(`name="request_key" value="([^"]+)"`).FindStringSubmatch(jobPage.body)
	if m == nil {
		t.Fatalf("the job page's run-now form has no request_key:\n%s", jobPage.body)
	}
	twice := url.Values{"request_key": {m[1]}}
	first, second := b.post("/admin/jobs/act/run", twice), b.post("/admin/jobs/act/run", twice)
	if first.status != http.StatusSeeOther || second.header.Get("Location") != first.header.Get("Location") ||
		first.header.Get("Location") == p.header.Get("Location") {
		t.Errorf("run now sent twice: %d %q then %d %q, want one new run", first.status, first.header.Get("Location"),
			second.status, second.header.Get("Location"))
	}
	runPage := b.get(p.header.Get("Location"))
	if !strings.Contains(runPage.body, "queued") || !strings.Contains(runPage.body, `disabled aria-describedby="retry-reason"`) ||
		!strings.Contains(runPage.body, "Retry is possible once the run has ended.") {
		t.Error("a queued run's page does not disable retry with its reason")
	}
	if !strings.Contains(runPage.body, "data-log-stream=") {
		t.Error("a queued run's page does not tail its log")
	}

	// The purge confirmation names what goes.
	p = b.get("/admin/jobs/act/purge")
	if !strings.Contains(p.body, "This deletes 2 finished runs of act") {
		t.Errorf("purge confirmation:\n%s", p.body)
	}
	if p := b.post("/admin/jobs/act/purge", nil); p.status != http.StatusSeeOther {
		t.Fatalf("purge: %d", p.status)
	}
	// The delete confirmation names the job and its remaining (queued) run.
	p = b.get("/admin/jobs/act/delete")
	if !strings.Contains(p.body, "This deletes the job act together with its runs (2)") || !strings.Contains(p.body, "Delete act and its runs") {
		t.Errorf("delete confirmation:\n%s", p.body)
	}
	p = b.post("/admin/jobs/act/delete", nil)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/jobs" {
		t.Fatalf("delete: %d %q", p.status, p.header.Get("Location"))
	}
	if e.jobExists("act") {
		t.Fatal("not deleted")
	}
	if p := b.get("/admin/jobs"); !strings.Contains(p.body, "Job act and its runs were deleted.") {
		t.Error("no confirmation after delete")
	}
}

func TestRetryAndCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	e.createJob(`{"id":"rc","handler":"test.noop"}`)
	failed := e.finishedRun("rc", "", connecthub.StatusFailure, "boom")
	b := e.browser()
	b.login()
	p := b.post("/admin/runs/"+failed.ID+"/retry", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("retry: %d", p.status)
	}
	newID := strings.TrimPrefix(p.header.Get("Location"), "/admin/runs/")
	retry, err := e.svc.RunGet(context.Background(), newID)
	if err != nil {
		t.Fatal(err)
	}
	if retry.Trigger != connecthub.TriggerRetry || retry.Snapshot.Meta.RetryOf != failed.ID || retry.Snapshot.Meta.RequestedBy != "admin-ui:admin" {
		t.Errorf("retry run: trigger %s retry_of %q requested_by %q", retry.Trigger, retry.Snapshot.Meta.RetryOf, retry.Snapshot.Meta.RequestedBy)
	}
	// Retrying the queued retry is refused with the catalog text of its code.
	p = b.post("/admin/runs/"+newID+"/retry", nil)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "The run is still running; retry it after it ends.") {
		t.Errorf("retry of a queued run: %d", p.status)
	}
	// Cancel the queued run.
	p = b.post("/admin/runs/"+newID+"/cancel", nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d", p.status)
	}
	if got, _ := e.svc.RunGet(context.Background(), newID); got.Status != connecthub.StatusCanceled {
		t.Errorf("after cancel: %s", got.Status)
	}
}

func TestRunsFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	e.createJob(`{"id":"f1","handler":"test.noop"}`)
	e.createJob(`{"id":"f2","handler":"test.noop"}`)
	ok1 := e.finishedRun("f1", "", connecthub.StatusSuccess, "")
	bad2 := e.finishedRun("f2", "", connecthub.StatusFailure, "x")
	b := e.browser()
	b.login()
	for _, tc := range []struct {
		query     string
		want, not []string
	}{
		{"job_id=f1", []string{ok1.ID}, []string{bad2.ID}},
		{"status=FAILURE", []string{bad2.ID}, []string{ok1.ID}},
		{"trigger=manual", []string{ok1.ID, bad2.ID}, nil},
		{"trigger=cron", nil, []string{ok1.ID, bad2.ID}},
		{"since=" + url.QueryEscape(time.Now().Add(time.Hour).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04")), nil, []string{ok1.ID}},
		{"until=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), []string{ok1.ID, bad2.ID}, nil},
	} {
		p := b.get("/admin/runs?" + tc.query)
		if p.status != http.StatusOK {
			t.Errorf("%s: status %d", tc.query, p.status)
		}
		for _, w := range tc.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("%s: lacks run %s", tc.query, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(p.body, n) {
				t.Errorf("%s: shows run %s", tc.query, n)
			}
		}
	}
	for _, q := range []string{"status=DONE", "trigger=magic", "since=yesterday"} {
		if p := b.get("/admin/runs?" + q); p.status != http.StatusBadRequest || !strings.Contains(p.body, `class="notice notice-error"`) {
			t.Errorf("%s: status %d, want 400 with the problem shown", q, p.status)
		}
	}
}

func TestLogStreamEndsWithTheRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	e.createJob(`{"id":"tail","handler":"test.noop"}`)
	run := e.finishedRun("tail", "first\n", connecthub.StatusRunning, "")
	b := e.browser()
	b.login()

	done := make(chan page, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/admin/runs/"+run.ID+"/log?offset=0", nil)
		done <- b.do(req)
	}()
	ctx := context.Background()
	if err := e.st.RunLogAppend(ctx, run.ID, "second\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.RunComplete(ctx, []storeOutcome{{ID: run.ID, Node: "test-node", Status: connecthub.StatusSuccess, Now: e.clk.Now()}}); err != nil {
		t.Fatal(err)
	}
	var p page
	select {
	case p = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end after the run ended")
	}
	if p.header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("Content-Type %q", p.header.Get("Content-Type"))
	}
	if !strings.Contains(p.body, "first") || !strings.Contains(p.body, "second") || !strings.HasSuffix(p.body, "event: end\ndata: SUCCESS\n\n") {
		t.Errorf("stream:\n%s", p.body)
	}
	// A reconnecting browser resumes after what it has.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/admin/runs/"+run.ID+"/log", nil)
	req.Header.Set("Last-Event-ID", "6")
	if p := b.do(req); strings.Contains(p.body, "first") || !strings.Contains(p.body, "second") {
		t.Errorf("resumed stream:\n%s", p.body)
	}
}

func TestErrorPagesAreFriendly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	b.login()
	for path, want := range map[string]int{
		"/admin/runs/does-not-exist":      http.StatusNotFound,
		"/admin/jobs/does-not-exist/edit": http.StatusNotFound,
		"/admin/no/such/page":             http.StatusNotFound,
		"/admin/jobs?enabled=maybe":       http.StatusBadRequest,
	} {
		p := b.get(path)
		if p.status != want {
			t.Errorf("%s: status %d, want %d", path, p.status, want)
		}
		if !strings.Contains(p.body, "Go to the dashboard") || strings.Contains(p.body, "goroutine") || strings.Contains(p.body, ".go:") {
			t.Errorf("%s: not the friendly error page:\n%s", path, p.body)
		}
		// Every error page of a signed-in person keeps the navigation.
		if !strings.Contains(p.body, `<nav class="mainnav"`) || !strings.Contains(p.body, `href="/admin/runs"`) {
			t.Errorf("%s: the error page has no navigation:\n%s", path, p.body)
		}
	}
	// Without a session an unknown admin page asks for the login first.
	if p := e.browser().get("/admin/no/such/page"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/admin/login?next=") {
		t.Errorf("unknown admin page without a session: %d %q", p.status, p.header.Get("Location"))
	}
	// In Chinese too.
	p := b.get("/admin/runs/nope", "Accept-Language", "zh-CN,zh;q=0.9")
	if !strings.Contains(p.body, "返回概览") || !strings.Contains(p.body, `<html lang="zh-CN">`) {
		t.Error("the error page is not translated")
	}
}

func TestLanguageSwitch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	b.login()
	if p := b.get("/admin/jobs", "Accept-Language", "zh-CN"); !strings.Contains(p.body, "新建任务") {
		t.Fatal("Accept-Language zh-CN does not give Chinese")
	}
	p := b.get("/admin/lang?to=zh-CN&next=" + url.QueryEscape("/admin/runs?status=FAILURE"))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/runs?status=FAILURE" {
		t.Fatalf("switch: %d %q", p.status, p.header.Get("Location"))
	}
	if p := b.get("/admin/jobs", "Accept-Language", "en"); !strings.Contains(p.body, "新建任务") {
		t.Fatal("the switch does not win over Accept-Language")
	}
	if p := b.get("/admin/lang?to=en&next=https://evil.example"); p.header.Get("Location") != "/admin/" {
		t.Errorf("open redirect through the language switch: %q", p.header.Get("Location"))
	}
}

// fakeNodes is a node registry for the nodes page.
type fakeNodes struct {
	nodes []*connecthub.Node
	err   error
}

func (f fakeNodes) NodeList(context.Context) ([]*connecthub.Node, error) { return f.nodes, f.err }

func TestNodesPage(t *testing.T) {
	t.Parallel()
	hb := time.Now().Add(-3 * time.Second)
	for _, tc := range []struct {
		name  string
		nodes fakeNodes
		want  []string
	}{
		{"registry", fakeNodes{nodes: []*connecthub.Node{
			{Name: "worker-b", Kind: "worker", PresentState: "inactive", LastHeartbeat: hb, Handlers: []connecthub.NodeHandler{{Name: "test.noop"}}},
			{Name: "server-a", Kind: "server", PresentState: "active", LastHeartbeat: hb, Running: 3, MaxConcurrency: 20, Handlers: []connecthub.NodeHandler{{Name: "sleep"}}},
		}}, []string{"server-a", "worker-b", "Active", "Inactive", "3 / 20", "sleep", "test.noop"}},
		{"empty registry", fakeNodes{}, []string{"No node has registered yet", "No nodes registered"}},
		{"no registry", fakeNodes{err: &connecthub.Error{Kind: connecthub.KindUnavailable, Code: "no_node_registry"}}, []string{"executes runs in its own worker pool", "No node registry yet"}},
		{"broken registry", fakeNodes{err: errors.New("db down")}, []string{"could not be read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, options{nodes: tc.nodes})
			b := e.browser()
			b.login()
			for _, path := range []string{"/admin/nodes", "/admin/"} {
				p := b.get(path)
				if p.status != http.StatusOK {
					t.Fatalf("%s: %d", path, p.status)
				}
				if !strings.Contains(p.body, tc.want[0]) {
					t.Errorf("%s lacks %q", path, tc.want[0])
				}
			}
			p := b.get("/admin/nodes")
			for _, w := range tc.want {
				if !strings.Contains(p.body, w) {
					t.Errorf("nodes page lacks %q", w)
				}
			}
		})
	}
}

func TestStaticFilesAreVersionedAndCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	b := e.browser()
	login := b.get("/admin/login")
	m := regexp.MustCompile(`src="(/admin/static/htmx\.min\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(login.body)
	if m == nil {
		t.Fatal("no versioned htmx link on the login page")
	}
	p := b.get(m[1])
	if p.status != http.StatusOK || !strings.Contains(p.header.Get("Cache-Control"), "immutable") || !strings.Contains(p.body, "htmx") {
		t.Fatalf("htmx: %d %q", p.status, p.header.Get("Cache-Control"))
	}
	if p := b.get("/admin/static/app.css"); !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") || p.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("unversioned css: %q %q", p.header.Get("Content-Type"), p.header.Get("Cache-Control"))
	}
	if p := b.get("/admin/static/../i18n/en.json"); p.status == http.StatusOK {
		t.Error("path traversal out of static/")
	}
}
