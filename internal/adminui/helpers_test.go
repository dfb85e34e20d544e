package adminui_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/adminui"
	"github.com/connecthub/connecthub/internal/auth"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/httpapi"
	"github.com/connecthub/connecthub/internal/notify"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/testenv"
)

const (
	testToken    = "ui-test-admin-token-0123456789"
	testPassword = "correct horse battery staple"
)

// env is an admin UI (in front of the real API, as serve mounts them) over
// a real SQLite store in the test's own directory.
type env struct {
	t   *testing.T
	srv *httptest.Server
	ui  *adminui.UI
	svc *service.Service
	st  store.Store
	clk *clock.Fake // settable, for the login rate limiter and sessions
}

// options tweak the env's UI.
type options struct {
	nodes adminui.NodeLister
	limit auth.LimiterConfig
	// notify turns the notification pages on.
	notify bool
}

// schemaHandler declares a config schema and a secret, so the form shows
// fields and the service validates against them.
var schemaHandler = handler.Spec{
	Name:         "test.schema",
	Description:  "A handler with a schema, for tests.",
	ConfigSchema: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string","description":"Where to send it."},"mode":{"type":"string","enum":["fast","safe"],"default":"safe"},"batch":{"type":"integer"}},"required":["url"],"additionalProperties":false}`),
	SecretKeys:   []string{"api_key"},
	Func: func(context.Context, *handler.Task) (*handler.Result, error) {
		return &handler.Result{Message: "ok"}, nil
	},
	Translations: map[string]handler.Text{"zh-CN": {
		Description: "带配置结构的处理器，用于测试。",
		Fields:      map[string]string{"url": "发送到哪里。"},
	}},
}

var noopHandler = handler.Spec{
	Name: "test.noop",
	Func: func(context.Context, *handler.Task) (*handler.Result, error) { return &handler.Result{}, nil },
}

func newEnv(t *testing.T, opts options) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "ui.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.Parse(key, "test")
	if err != nil {
		t.Fatal(err)
	}
	reg := handler.NewRegistry()
	for _, s := range []handler.Spec{schemaHandler, noopHandler} {
		if err := reg.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	clk := testenv.ClockAt(time.Now().UTC())
	svc, err := service.New(service.Config{Store: st, Keys: keys, Registry: reg, Now: clk.Now,
		Defaults: connecthub.JobDefaults{Timezone: "Asia/Shanghai"}})
	if err != nil {
		t.Fatal(err)
	}
	var notifySvc *notify.Service
	if opts.notify {
		notifySvc = &notify.Service{Store: st, Keyring: keys, Clock: clk}
	}
	ui, err := adminui.New(adminui.Config{Service: svc, AdminToken: testToken, Sessions: st, Password: testPassword, Timezone: "Asia/Shanghai",
		Node: "test-node", Nodes: opts.nodes, LoginLimit: opts.limit, Now: clk.Now, LogPoll: 10 * time.Millisecond, Notify: notifySvc})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{Service: svc, AdminToken: testToken, Sessions: ui.Sessions(), SessionStore: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui.Wrap(api))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, ui: ui, svc: svc, st: st, clk: clk}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each response.
type browser struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{t: e.t, e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is a response read whole.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(path string, headers ...string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// post sends a form the way a browser does from the UI's own pages:
// same-origin, with the session's CSRF token unless the form has one.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok && b.csrf != "" {
		form.Set("csrf_token", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.e.srv.URL)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	return b.do(req)
}

var (
	nonceRE = regexp.MustCompile(`name="login_nonce" value="([^"]+)"`)
	csrfRE  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// login signs in through the login form and remembers the CSRF token.
func (b *browser) login() {
	b.t.Helper()
	p := b.tryLogin("admin", testPassword)
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("login: status %d\n%s", p.status, p.body)
	}
	dash := b.get("/admin/")
	if dash.status != http.StatusOK {
		b.t.Fatalf("dashboard after login: status %d", dash.status)
	}
	m := csrfRE.FindStringSubmatch(dash.body)
	if m == nil {
		b.t.Fatal("no CSRF token on the dashboard")
	}
	b.csrf = m[1]
}

func (b *browser) tryLogin(user, password string) page {
	b.t.Helper()
	form := b.get("/admin/login")
	m := nonceRE.FindStringSubmatch(form.body)
	if m == nil {
		b.t.Fatalf("login form without a nonce:\n%s", form.body)
	}
	return b.post("/admin/login", url.Values{"username": {user}, "password": {password}, "login_nonce": {m[1]}, "next": {"/admin/"}})
}

// createJob stores a job through the service, as the API would.
func (e *env) createJob(body string) *connecthub.Job {
	e.t.Helper()
	in, err := connecthub.DecodeJobInput([]byte(body))
	if err != nil {
		e.t.Fatal(err)
	}
	j, err := e.svc.JobCreate(context.Background(), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

// finishedRun runs the job "by hand" through the store: it queues a run,
// claims it, appends log to it and completes it, as a worker would.
func (e *env) finishedRun(jobID, log string, status connecthub.RunStatus, errText string) *connecthub.Run {
	e.t.Helper()
	ctx := context.Background()
	r, err := e.svc.RunNow(ctx, jobID, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clk.Now()
	claimed, err := e.st.RunClaim(ctx, store.RunClaimParams{Node: "test-node", Queues: []string{"default"}, Max: 1, LeaseTTL: time.Minute, Now: now})
	if err != nil || len(claimed) != 1 || claimed[0].ID != r.ID {
		e.t.Fatalf("claim: %v %v", claimed, err)
	}
	if log != "" {
		if err := e.st.RunLogAppend(ctx, r.ID, log); err != nil {
			e.t.Fatal(err)
		}
	}
	if status != connecthub.StatusRunning {
		applied, err := e.st.RunComplete(ctx, []store.RunOutcome{{ID: r.ID, Node: "test-node", Status: status, Message: "done", Error: errText, Now: now}})
		if err != nil || !applied[0] {
			e.t.Fatalf("complete: %v %v", applied, err)
		}
	}
	got, err := e.svc.RunGet(ctx, r.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// jobExists reports whether the job is still stored.
func (e *env) jobExists(id string) bool {
	e.t.Helper()
	_, err := e.svc.JobGet(context.Background(), id)
	var ce *connecthub.Error
	if errors.As(err, &ce) && ce.Kind == connecthub.KindNotFound {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return true
}

// storeOutcome shortens store.RunOutcome in tests.
type storeOutcome = store.RunOutcome

// formWith is a copy of a form with some fields set to other values.
func formWith(base url.Values, kv ...string) url.Values {
	v := url.Values{}
	for k, vv := range base {
		v[k] = vv
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}
