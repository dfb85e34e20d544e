package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/connecthub/connecthub"
)

// The files under deploy/ these tests check, relative to this package.
var (
	dashboardFile  = filepath.Join("..", "..", "deploy", "grafana", "connecthub.json")
	alertsFile     = filepath.Join("..", "..", "deploy", "prometheus", "alerts.yml")
	alertsTestFile = filepath.Join("..", "..", "deploy", "prometheus", "alerts_test.yml")
)

// needTool returns the path of a Debian tool (promtool, prometheus) that
// scripts/ensure-prometheus.sh installs, skipping the test when it is
// missing, or failing it under CONNECTHUB_TEST_STRICT=1 (make test, CI).
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " is not installed (Debian package prometheus; scripts/ensure-prometheus.sh installs it)"
	if os.Getenv("CONNECTHUB_TEST_STRICT") == "1" {
		t.Fatal(msg + ", and CONNECTHUB_TEST_STRICT=1 makes that a failure")
	}
	t.Skip(msg)
	return ""
}

// TestPromtoolRules checks the alerting rules with Debian's promtool: they
// load, and their unit tests (alerts_test.yml) pass.
func TestPromtoolRules(t *testing.T) {
	t.Parallel()
	promtool := needTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", filepath.Base(alertsFile)},
		{"test", "rules", filepath.Base(alertsTestFile)},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Dir(alertsFile)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// metricRef matches the metric names a query or a text mentions: the
// ConnectHub metrics and the Go runtime and process metrics.
var metricRef = regexp.MustCompile(`\b(?:connecthub|go|process)_[a-zA-Z0-9_]+\b`)

// dashboard is the part of the Grafana dashboard the tests read.
type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) (*dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	return &d, raw
}

// dashboardQueries are the dashboard's PromQL queries: the panels' and the
// variables'.
func (d *dashboard) queries() []string {
	var qs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			qs = append(qs, v.Definition)
		}
	}
	return qs
}

// TestDashboardShape checks what Grafana needs to import the dashboard and
// what a reader expects of it: a uid, unique panel ids, panels inside the
// 24-column grid, every query panel on the dashboard's data source
// variable with at least one query, and every variable a query uses
// defined.
func TestDashboardShape(t *testing.T) {
	t.Parallel()
	d, _ := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both are needed", d.UID, d.Title)
	}
	vars := map[string]bool{"__rate_interval": true, "__range": true}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v is outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q with %d queries, want ${datasource} and at least one", p.Title, p.Datasource.UID, len(p.Targets))
		}
	}
	for _, q := range d.queries() {
		for _, m := range regexp.MustCompile(`\$\{?(\w+)`).FindAllStringSubmatch(q, -1) {
			if !vars[m[1]] {
				t.Errorf("query %q uses $%s, which the dashboard does not define", q, m[1])
			}
		}
	}
}

// exportedNames scrapes the node's /metrics and returns the sample names
// a query may use (a histogram's _bucket, _sum and _count) and the metric
// families.
func exportedNames(t *testing.T, base string) (names map[string]bool, families []string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	names = map[string]bool{}
	for name, mf := range mfs {
		families = append(families, name)
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY:
			names[name+"_sum"], names[name+"_count"] = true, true
			if mf.GetType() == dto.MetricType_HISTOGRAM {
				names[name+"_bucket"] = true
			} else {
				names[name] = true
			}
		default:
			names[name] = true
		}
	}
	slices.Sort(families)
	return names, families
}

// TestDashboardAndAlertsUseExportedMetrics runs a node, makes a run
// succeed and one fail so that the run metrics exist, scrapes /metrics,
// and checks that every metric name the dashboard and the alerting rules
// mention is one the node exports, and that the dashboard shows every
// ConnectHub metric.
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	c := &http.Client{Timeout: 30 * time.Second}
	n.runJob(c, "metrics.ok", `{"handler": "noop"}`, connecthub.StatusSuccess)
	n.runJob(c, "metrics.fails", `{"handler": "httpcall", "public_cfg": {"url": "`+n.url+`/api/v1/jobs"}}`, connecthub.StatusFailure)
	names, families := exportedNames(t, n.url)

	d, raw := readDashboard(t)
	alerts, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	family := map[string]bool{}
	for _, f := range families {
		family[f] = true
	}
	for _, src := range []struct {
		what    string
		text    string
		strict  bool // a query: histograms only by their _bucket, _sum and _count
		minRefs int
	}{
		{"the dashboard's queries", strings.Join(d.queries(), "\n"), true, 10},
		{"the alerting rules' expressions", strings.Join(alertExprs(string(alerts)), "\n"), true, 5},
		{dashboardFile, string(raw), false, 10},
		{alertsFile, string(alerts), false, 5},
	} {
		refs := metricRef.FindAllString(src.text, -1)
		if len(refs) < src.minRefs {
			t.Errorf("%s mention %d metrics, want at least %d: %q", src.what, len(refs), src.minRefs, refs)
		}
		for _, name := range refs {
			if !names[name] && (src.strict || !family[name]) {
				t.Errorf("%s use %s, which the server does not export", src.what, name)
			}
		}
	}
	used := strings.Join(d.queries(), "\n")
	for _, f := range families {
		if strings.HasPrefix(f, "connecthub_") && !regexp.MustCompile(`\b`+f+`(_bucket|_sum|_count)?\b`).MatchString(used) {
			t.Errorf("the dashboard does not show %s", f)
		}
	}
}

// alertExprs returns the expr of every rule of a rules file: the rest of
// an "expr:" line, or the indented block under "expr: |".
func alertExprs(rules string) []string {
	var exprs []string
	lines := strings.Split(rules, "\n")
	for i := 0; i < len(lines); i++ {
		key := strings.TrimSpace(lines[i])
		rest, ok := strings.CutPrefix(key, "expr:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if rest != "|" && rest != ">-" && rest != "|-" {
			exprs = append(exprs, rest)
			continue
		}
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		var block []string
		for i+1 < len(lines) {
			next := lines[i+1]
			if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
				break
			}
			block = append(block, strings.TrimSpace(next))
			i++
		}
		exprs = append(exprs, strings.Join(block, " "))
	}
	return exprs
}

// runJob creates a job from spec (a JSON object without its id), runs it
// through the API and waits until it ends with want.
func (n *node) runJob(c *http.Client, id, spec string, want connecthub.RunStatus) connecthub.Run {
	n.t.Helper()
	var job map[string]any
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		n.t.Fatal(err)
	}
	job["id"] = id
	body, _ := json.Marshal(job)
	auth := []string{"Authorization", "Bearer " + nodeToken, "Content-Type", "application/json"}
	if resp, out := n.send(c, n.request(http.MethodPost, "/api/v1/jobs", string(body), auth...)); resp.StatusCode != http.StatusCreated {
		n.t.Fatalf("create job %s: %d %s", id, resp.StatusCode, out)
	}
	resp, out := n.send(c, n.request(http.MethodPost, "/api/v1/jobs/"+id+"/run", "", auth...))
	if resp.StatusCode != http.StatusAccepted {
		n.t.Fatalf("run job %s: %d %s", id, resp.StatusCode, out)
	}
	var run connecthub.Run
	if err := json.Unmarshal([]byte(out), &run); err != nil {
		n.t.Fatal(err)
	}
	return n.waitRun(c, run.ID, want)
}

// promQuery asks a Prometheus server's HTTP API for an instant query and
// returns the result, or the error Prometheus answered.
func promQuery(c *http.Client, base, query string) ([]promSample, error) {
	resp, err := c.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("%d %s", resp.StatusCode, buf.String())
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("%s", out.Error)
	}
	var samples []promSample
	if out.Data.ResultType == "vector" {
		if err := json.Unmarshal(out.Data.Result, &samples); err != nil {
			return nil, err
		}
	}
	return samples, nil
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}
