package deploytest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/testpg"
)

// replicaEnv is the configuration of one `serve` replica of a two-replica
// deployment on PostgreSQL: one database, one key file and one admin
// token for both, a port and a data directory of its own. The shutdown
// settings are deploy/docker-compose.yml's: a 25s shutdown timeout and no
// shutdown delay, which nginx does not need (it learns that a replica
// stops from the refused connection).
func replicaEnv(dbURL, keyPath, dataDir string, port int) map[string]string {
	return map[string]string{
		"CONNECTHUB_DB_URL":           dbURL,
		"CONNECTHUB_FERNET_KEY_PATH":  keyPath,
		"CONNECTHUB_DATA_DIR":         dataDir,
		"CONNECTHUB_LISTEN":           fmt.Sprintf("127.0.0.1:%d", port),
		"CONNECTHUB_ADMIN_TOKEN":      testToken,
		"CONNECTHUB_TIMEZONE":         "UTC",
		"CONNECTHUB_WORKERS":          "4",
		"CONNECTHUB_TRUSTED_PROXIES":  "127.0.0.1",
		"CONNECTHUB_SHUTDOWN_TIMEOUT": "25s",
	}
}

// loadResult is what a client loop saw.
type loadResult struct {
	mu       sync.Mutex
	requests int
	failures []string
	runIDs   []string
}

func (r *loadResult) ok(runID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if runID != "" {
		r.runIDs = append(r.runIDs, runID)
	}
}

func (r *loadResult) fail(what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.failures = append(r.failures, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), what, err))
}

// runLoad is the client loop of a rollout: three clients reading the API
// (a job, a page of runs) every 10 ms each, and one asking for a run of
// job every 100 ms, all through base, until ctx ends.
func runLoad(ctx context.Context, c *client.Client, job string) (*loadResult, *sync.WaitGroup) {
	res := &loadResult{}
	var wg sync.WaitGroup
	loop := func(every time.Duration, call func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					call()
				}
			}
		}()
	}
	// The calls run on a context of their own: ending the loop must not
	// cancel a request in flight and count it as failed.
	callCtx := context.WithoutCancel(ctx)
	for i := range 3 {
		loop(10*time.Millisecond, func() {
			var err error
			if i%2 == 0 {
				_, err = c.GetJob(callCtx, job)
			} else {
				_, err = c.ListRuns(callCtx, url.Values{"job_id": {job}, "limit": {"5"}})
			}
			if err != nil {
				res.fail("GET", err)
				return
			}
			res.ok("")
		})
	}
	loop(100*time.Millisecond, func() {
		run, err := c.RunJob(callCtx, job)
		if err != nil {
			res.fail("POST run", err)
			return
		}
		res.ok(run.ID)
	})
	return res, &wg
}

// runningOn returns a RUNNING run of job on the node of process pid (node
// names end in -pid), or "".
func runningOn(t *testing.T, c *client.Client, job string, pid int) string {
	t.Helper()
	page, err := c.ListRuns(t.Context(), url.Values{"job_id": {job}, "status": {string(connecthub.StatusRunning)}, "limit": {"50"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Runs {
		if strings.HasSuffix(r.Node, fmt.Sprintf("-%d", pid)) {
			return r.ID
		}
	}
	return ""
}

// contextWithCancel is the test's context with a cancel of its own.
func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

// checkRuns waits until every run of job is finished and checks that the
// runs are exactly those the client was told about (none lost, none
// doubled by a retried POST), each succeeded at its first and only
// attempt (none killed mid-run and run again).
func checkRuns(t *testing.T, c *client.Client, job string, want []string) {
	t.Helper()
	ctx := t.Context()
	var runs []connecthub.Run
	waitFor(t, "every run to finish", 60*time.Second, func() bool {
		runs = runs[:0]
		q := url.Values{"job_id": {job}, "limit": {"200"}}
		for {
			page, err := c.ListRuns(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, page.Runs...)
			if page.NextCursor == "" {
				break
			}
			q.Set("cursor", page.NextCursor)
		}
		for _, r := range runs {
			if !r.Status.Terminal() {
				return false
			}
		}
		return true
	})
	got := map[string]bool{}
	for _, r := range runs {
		got[r.ID] = true
		if r.Status != connecthub.StatusSuccess || r.Attempt != 1 || len(r.Attempts) > 1 {
			t.Errorf("run %s: %s at attempt %d (%d attempts) on %s: %s, want succeeded once",
				r.ID, r.Status, r.Attempt, len(r.Attempts), r.Node, r.Error)
		}
	}
	for _, id := range want {
		if !got[id] {
			t.Errorf("run %s, accepted by the API, is lost", id)
		}
	}
	if len(runs) != len(want) {
		t.Errorf("%d runs exist, the API accepted %d run requests: a request was doubled", len(runs), len(want))
	}
}

// TestRollingRestartBehindNginx restarts both `serve` replicas of a
// deployment, one after the other, behind Debian's nginx running the
// shipped deploy/nginx files, while clients keep calling the API and
// asking for runs through nginx: no request fails, no run is lost or
// doubled. Each replica gets a real SIGTERM, drains and exits 0; it comes
// back on the same port and, as a rollout would, the next replica is
// stopped only once the restarted one is ready and nginx passes it
// requests again.
func TestRollingRestartBehindNginx(t *testing.T) {
	t.Parallel()
	dbURL := testpg.URL(t)
	dir := t.TempDir()
	key := keygen(t, dir)
	ports := [2]int{freePort(t), freePort(t)}
	var replicas [2]*process
	for i, port := range ports {
		replicas[i] = newProcess(t, "", replicaEnv(dbURL, key, filepath.Join(dir, fmt.Sprint("r", i)), port), "serve")
		replicas[i].start()
	}
	ng := startNginx(t, renderCompose(t, ports[0], ports[1]))
	c := apiClient(t, ng.url(), &http.Client{Timeout: 30 * time.Second})
	ctx := t.Context()
	const job = "nap"
	if _, err := c.CreateJob(ctx, []byte(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":0.5},"max_attempts":1}`)); err != nil {
		t.Fatal(err)
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	res, wg := runLoad(loadCtx, c, job)
	started := time.Now()
	for i, port := range ports {
		// Stop it while it executes a run, so that the drain has work.
		var inFlight string
		waitFor(t, "a run in flight on the replica", 30*time.Second, func() bool {
			inFlight = runningOn(t, c, job, replicas[i].cmd.Process.Pid)
			return inFlight != ""
		})
		drain := replicas[i].terminate(60 * time.Second)
		if r, err := c.GetRun(ctx, inFlight); err != nil || r.Status != connecthub.StatusSuccess || len(r.Attempts) > 1 {
			t.Errorf("run %s, in flight at SIGTERM: %+v, %v; want finished by the draining replica", inFlight, r, err)
		}
		t.Logf("replica %d (port %d): SIGTERM to exit 0 in %s", i+1, port, drain.Round(time.Millisecond))
		t.Logf("its shutdown:\n%s", grepLines(replicas[i].logs.String(), "shutting down", "stopped"))
		replicas[i] = newProcess(t, "", replicas[i].env, "serve")
		replicas[i].start()
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		waitFor(t, "the restarted replica to be ready", 30*time.Second, func() bool { return ready(ctx, base) })
		back := ng.servedBy(port)
		waitFor(t, "nginx to pass requests to the restarted replica", 20*time.Second, func() bool { return ng.servedBy(port) > back })
	}
	stopLoad()
	wg.Wait()
	rollout := time.Since(started)

	res.mu.Lock()
	defer res.mu.Unlock()
	t.Logf("rolling restart of 2 replicas in %s: %d requests through nginx, %d failed, %d runs requested",
		rollout.Round(time.Millisecond), res.requests, len(res.failures), len(res.runIDs))
	for _, f := range res.failures {
		t.Errorf("failed request: %s", f)
	}
	if len(res.failures) > 0 {
		t.Logf("nginx error log:\n%s", ng.errorLog())
	}
	if len(res.runIDs) < 10 {
		t.Errorf("only %d runs requested during the rollout; the test proves nothing", len(res.runIDs))
	}
	checkRuns(t, c, job, res.runIDs)
}
