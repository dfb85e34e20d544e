package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// TestPrometheusScrapesThroughSD starts Debian's Prometheus with the
// scrape configuration docs/observability.md gives: HTTP service discovery
// against the node's /api/v1/sd/prometheus with a worker-scope token, and
// the alerting rules of deploy/prometheus. It runs a job and waits until
// Prometheus answers a query for connecthub_runs_total with the run
// counted, with the labels the dashboard and the rules rely on; then it
// checks that Prometheus loaded the rules and evaluates every query of the
// dashboard without error.
func TestPrometheusScrapesThroughSD(t *testing.T) {
	t.Parallel()
	prometheus := needTool(t, "prometheus")
	n := startNode(t, testConfig(t, t.TempDir()))
	c := &http.Client{Timeout: 30 * time.Second}

	// Prometheus authenticates discovery with a worker-scope token, which
	// cannot change jobs.
	auth := []string{"Authorization", "Bearer " + nodeToken, "Content-Type", "application/json"}
	resp, body := n.send(c, n.request(http.MethodPost, "/api/v1/tokens", `{"name": "prometheus", "scope": "worker"}`, auth...))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create token: %d %s", resp.StatusCode, body)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("create token: %v %s", err, body)
	}

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "connecthub.token")
	if err := os.WriteFile(tokenFile, []byte(tok.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: connecthub
    http_sd_configs:
      - url: %q
        refresh_interval: 1s
        authorization:
          type: Bearer
          credentials_file: %q
`, rules, n.url+"/api/v1/sd/prometheus", tokenFile)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, prometheus, cfgFile, filepath.Join(dir, "data"))

	run := n.runJob(c, "prom.ping", `{"handler": "noop"}`, connecthub.StatusSuccess)
	var got []promSample
	waitProm(t, prom, "connecthub_runs_total of job prom.ping to be scraped", func() (bool, error) {
		var err error
		got, err = promQuery(c, prom.url, `connecthub_runs_total{exported_job="prom.ping"}`)
		return len(got) > 0, err
	})
	s := got[0]
	if v, _ := s.Value[1].(string); v != "1" {
		t.Errorf("connecthub_runs_total = %v, want 1 after one run", s.Value[1])
	}
	for k, want := range map[string]string{
		"job": "connecthub", "status": "SUCCESS", "trigger": "manual", "node": run.Node, "kind": "server",
		"instance": strings.TrimPrefix(n.url, "http://"),
	} {
		if s.Metric[k] != want {
			t.Errorf("label %s = %q, want %q (all: %v)", k, s.Metric[k], want, s.Metric)
		}
	}

	// The rules are loaded.
	resp, err = c.Get(prom.url + "/api/v1/rules?type=alert")
	if err != nil {
		t.Fatal(err)
	}
	var rulesOut bytes.Buffer
	_, _ = rulesOut.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"ConnectHubJobFailed", "ConnectHubNoSchedulerAlive", "ConnectHubNodeDown", "ConnectHubQueueBacklog"} {
		if !strings.Contains(rulesOut.String(), `"name":"`+name+`"`) {
			t.Errorf("Prometheus did not load alert %s: %s", name, rulesOut.String())
		}
	}

	// Every dashboard query is valid PromQL that Prometheus evaluates.
	d, _ := readDashboard(t)
	vars := strings.NewReplacer("$__rate_interval", "1m", "$__range", "1h", "$job", ".*", "$queue", ".*")
	for _, q := range d.queries() {
		if strings.HasPrefix(q, "label_values(") {
			continue // a Grafana function, not PromQL
		}
		if _, err := promQuery(c, prom.url, vars.Replace(q)); err != nil {
			t.Errorf("dashboard query %q: %v", q, err)
		}
	}
}

// promServer is a Prometheus process started by a test.
type promServer struct {
	url string
	log *bytes.Buffer
}

// startPrometheus runs prometheus with cfgFile on a free port of 127.0.0.1
// and a storage directory of the test's own until the test ends.
func startPrometheus(t *testing.T, bin, cfgFile, storage string) *promServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	log := &bytes.Buffer{}
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+storage,
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	p := &promServer{url: "http://" + addr, log: log}
	waitProm(t, p, "Prometheus to be ready", func() (bool, error) {
		select {
		case <-done:
			return false, fmt.Errorf("prometheus exited")
		default:
		}
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false, nil // not listening yet
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return p
}

// waitProm polls cond until it holds, failing the test on its error or
// after a generous timeout (Prometheus starts slowly on a loaded machine),
// with Prometheus's log.
func waitProm(t *testing.T, p *promServer, what string, cond func() (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v\nprometheus log:\n%s", what, err, p.log.String())
		}
		if ok {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s\nprometheus log:\n%s", what, p.log.String())
		}
	}
}
