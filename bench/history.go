package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/store"
)

// The history measurement (issue 10): N finished runs of historyJobs jobs
// spread over historySpan, written in bulk by the driver's
// store.HistoryLoader (95% SUCCESS, 4% FAILURE, 1% SKIPPED); then a node
// serves them and each read below is timed, median of historyReads
// requests after one warm-up request. The reads are those whose cost grew
// with history before the run counts were maintained. /metrics is timed
// as served (its gauges are cached for metrics.DefaultStatsTTL, so most of
// the requests reuse a read); stats_store is the uncached read behind it
// and behind /api/v1/stats, a Stats call straight to the store.
const (
	historyJobs  = 100
	historySpan  = 90 * 24 * time.Hour
	historyReads = 5
	// historyPassword is the node's admin password, for the admin pages.
	historyPassword = "bench-history-password"
	historyToken    = "bench-history-admin-token-0123456789"
)

// historyReadsTimed are the timed reads: the name in the diag's Extra
// (with _ms) and the path; "{job}" is a job's id.
var historyReadsTimed = []struct{ name, path string }{
	{"stats", "/api/v1/stats"},
	{"metrics", "/metrics"},
	{"dashboard", "/admin/"},
	{"jobs_api", "/api/v1/jobs"},
	{"jobs_page", "/admin/jobs"},
	{"job_api", "/api/v1/jobs/{job}"},
	{"job_page", "/admin/jobs/{job}/edit"},
	{"runs_api", "/api/v1/runs?limit=50"},
	{"runs_page", "/admin/runs"},
	{"runs_failed", "/admin/runs?status=FAILURE"},
	{"runs_job", "/admin/runs?job_id={job}"},
	{"runs_job_failed", "/admin/runs?job_id={job}&status=FAILURE"},
	{"run_page", "/admin/runs/{run}"},
}

// history builds the history (or reuses a kept one) and times the reads.
func (m *measurement) history(ctx context.Context, res *Result) error {
	var jobs []*connecthub.Job
	if m.a.keyPath != "" {
		kept, err := m.keptHistory(ctx)
		if err != nil {
			return err
		}
		jobs = kept
	}
	m.diag.Extra = map[string]float64{}
	if jobs == nil {
		built, err := m.buildHistory(ctx)
		if err != nil {
			return err
		}
		jobs = built
	}
	m.diag.Runs = int64(m.a.N)
	// The counts must say what was loaded, before anything is timed.
	st, err := m.e.st.Stats(ctx, time.Now())
	if err != nil {
		return err
	}
	if got := st.Runs[connecthub.StatusSuccess] + st.Runs[connecthub.StatusFailure] + st.Runs[connecthub.StatusSkipped]; got != int64(m.a.N) {
		return fmt.Errorf("verify: the counts say %d finished runs, want %d", got, m.a.N)
	}
	return m.timeHistory(ctx, jobs)
}

// buildHistory creates the jobs and loads the history in bulk, and
// returns the jobs.
func (m *measurement) buildHistory(ctx context.Context) ([]*connecthub.Job, error) {
	if err := m.createJobs(ctx, "hist", historyJobs, "", true); err != nil {
		return nil, err
	}
	jobs, _, err := m.e.st.JobList(ctx, store.JobListParams{Limit: historyJobs})
	if err != nil {
		return nil, err
	}
	hl, ok := m.e.st.(store.HistoryLoader)
	if !ok {
		return nil, fmt.Errorf("the %s store cannot load a history in bulk", m.e.driver)
	}
	// A deployment's history accumulates under a running server, whose
	// first start stored the key check; without it the node's first start
	// would prove its key by walking every run for a stored secret (once,
	// but through all N runs), which is not a read this measures.
	keys, _, err := secret.LoadOrCreate(m.historyKeyPath())
	if err != nil {
		return nil, err
	}
	check, err := keys.NewCheck()
	if err != nil {
		return nil, err
	}
	if _, err := m.e.st.KeyCheckInit(ctx, check); err != nil {
		return nil, fmt.Errorf("store the key check: %w", err)
	}
	now := time.Now().UTC()
	h := store.History{Jobs: jobs, Runs: int64(m.a.N), From: now.Add(-historySpan), Step: max(historySpan/time.Duration(m.a.N), time.Microsecond)}
	start := time.Now()
	if err := hl.LoadHistory(ctx, h); err != nil {
		return nil, fmt.Errorf("load the history: %w", err)
	}
	// A bulk load over 90 days leaves PostgreSQL one delta row per job,
	// hour and status; the servers' compactor folds them within 10 s, and
	// the measurement does it at once so that it times the steady state.
	if err := m.e.st.StatsCompact(ctx, time.Now()); err != nil {
		return nil, fmt.Errorf("compact the counts: %w", err)
	}
	// A server's autovacuum analyzes and vacuums a table this size soon
	// after it grows; the measurement does it at once, so that the reads
	// are planned on the history's statistics (not on those of an empty
	// table) and index-only scans find the pages all-visible.
	if m.a.System == systemPostgres {
		if err := pgVacuumAnalyze(ctx, m.a.dsn); err != nil {
			return nil, err
		}
	}
	m.diag.Extra["build_s"] = round(time.Since(start).Seconds(), 1)
	return jobs, nil
}

// timeHistory starts a node over the history and times the reads.
func (m *measurement) timeHistory(ctx context.Context, jobs []*connecthub.Job) error {
	// The measured phase begins with a store reopened (beginMeasured), as
	// a node boots with it.
	if err := m.beginMeasured(ctx); err != nil {
		return err
	}
	base, stopNode, err := m.historyNode(ctx)
	if err != nil {
		return err
	}
	// The node stops before the measured phase ends, which closes the
	// store it heartbeats through.
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopNode()
		}
	}
	defer stop()
	c, err := adminClient(ctx, base)
	if err != nil {
		return err
	}
	newest, _, err := m.e.st.RunList(ctx, store.RunListParams{Limit: 1})
	if err != nil || len(newest) == 0 {
		return fmt.Errorf("the newest run: %v (%d runs)", err, len(newest))
	}
	for _, r := range historyReadsTimed {
		path := strings.NewReplacer("{job}", url.PathEscape(jobs[0].ID), "{run}", url.PathEscape(newest[0].ID)).Replace(r.path)
		ms, err := timeReads(ctx, c, base+path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		m.diag.Extra[r.name+"_ms"] = ms
	}
	var storeTimes []float64
	for range historyReads {
		t0 := time.Now()
		if _, err := m.e.st.Stats(ctx, time.Now()); err != nil {
			return err
		}
		storeTimes = append(storeTimes, float64(time.Since(t0).Microseconds())/1000)
	}
	m.diag.Extra["stats_store_ms"] = round(median(storeTimes), 2)
	c.CloseIdleConnections()
	stop()
	return m.endMeasured(ctx, nil)
}

// historyNode starts a node over the measurement's store with a known
// admin token and password, and returns its base URL and a stop function.
func (m *measurement) historyNode(ctx context.Context) (string, func(), error) {
	cfg := config.Default()
	cfg.Workers = 1
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = m.e.dir
	cfg.FernetKeyPath = m.historyKeyPath()
	cfg.AdminToken, cfg.AdminPassword = config.Secret(historyToken), config.Secret(historyPassword)
	// No retention pass: the history spans the default 90 days, so the
	// cleaner would delete its oldest runs while the reads are timed (and
	// a kept history would shrink below the N it is reused for).
	cfg.RunRetention = 0
	if m.e.driver == "postgres" {
		cfg.DBURL = m.e.dsn
	}
	srv, err := server.New(ctx, cfg, server.Options{Handlers: m.e.reg, Logger: m.e.log, Store: m.e.st})
	if err != nil {
		return "", nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return "", nil, fmt.Errorf("the node stopped before it was ready: %w", err)
	}
	return "http://" + srv.Addr(), func() { cancel(); <-done }, nil
}

// historyKeyPath is the node's Fernet key file.
func (m *measurement) historyKeyPath() string {
	if m.a.keyPath != "" {
		return m.a.keyPath
	}
	return filepath.Join(m.e.dir, "fernet.key")
}

// adminClient logs in to the node's admin UI and returns a client that
// sends the session cookie and the admin token.
func adminClient(ctx context.Context, base string) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Jar: jar, Transport: tokenTransport{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	body, err := get(ctx, c, base+"/admin/login")
	if err != nil {
		return nil, err
	}
	nonce := regexp.MustCompile(`name="login_nonce" value="([^"]+)"`).FindStringSubmatch(body)
	if nonce == nil {
		return nil, fmt.Errorf("the login page has no nonce")
	}
	form := url.Values{"username": {config.DefaultAdminUsername}, "password": {historyPassword}, "login_nonce": {nonce[1]}, "next": {"/admin/"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("login: status %d", resp.StatusCode)
	}
	return c, nil
}

// tokenTransport adds the admin token to every request (the API's
// authentication; the admin pages use the session cookie).
type tokenTransport struct{}

// CloseIdleConnections closes the kept-alive connections, so that the
// node's shutdown does not wait for them.
func (tokenTransport) CloseIdleConnections() {
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func (tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+historyToken)
	return http.DefaultTransport.RoundTrip(r)
}

// get fetches u and fails unless it answers 200.
func get(ctx context.Context, c *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return string(b), nil
}

// timeReads fetches u once to warm up, then historyReads times, and
// returns the median time in milliseconds.
func timeReads(ctx context.Context, c *http.Client, u string) (float64, error) {
	if _, err := get(ctx, c, u); err != nil {
		return 0, err
	}
	var ms []float64
	for range historyReads {
		t0 := time.Now()
		if _, err := get(ctx, c, u); err != nil {
			return 0, err
		}
		ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
	}
	slices.Sort(ms)
	return round(median(ms), 2), nil
}
