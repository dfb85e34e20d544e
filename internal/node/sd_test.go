package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// TestPrometheusSD checks the output byte for byte against the format of
// https://prometheus.io/docs/prometheus/latest/http_sd/: a JSON list of
// {"targets": ["<host>:<port>", ...], "labels": {"<name>": "<value>"}}
// groups, [] (not null) when empty.
func TestPrometheusSD(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	empty, err := f.reg.PrometheusSD(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(empty); string(b) != "[]" {
		t.Fatalf("no nodes: got %s, want []", b)
	}

	server := &connecthub.Node{Name: "srv-1", Kind: connecthub.NodeKindServer, Endpoint: "http://10.0.0.1:8000",
		Queues: []string{"default"}, Handlers: []connecthub.NodeHandler{{Name: "noop"}}}
	worker := workerNode("wrk-1") // endpoint http://10.0.0.5:9100, label zone=sh-1
	worker.MetricsPort = 9200
	v6 := workerNode("wrk-v6")
	v6.Endpoint, v6.Labels = "[fd00::5]:9100", nil
	noEndpoint := workerNode("wrk-blind")
	noEndpoint.Endpoint = ""
	stopped := workerNode("wrk-stopped") // stopped by an operator, but alive: still scraped
	dead := workerNode("wrk-dead")
	starting := workerNode("wrk-starting")

	for _, n := range []*connecthub.Node{dead, server, worker, v6, noEndpoint, stopped} {
		f.register(n)
	}
	f.clock.Advance(time.Minute)
	for _, name := range []string{"srv-1", "wrk-1", "wrk-v6", "wrk-blind", "wrk-stopped"} {
		if _, err := f.reg.Keepalive(ctx, name, connecthub.NodeActive, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.reg.SetSettingState(ctx, "wrk-stopped", connecthub.NodeInactive); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.reaper.ReapOnce(ctx); err != nil { // wrk-dead never sent a keepalive
		t.Fatal(err)
	}
	f.register(starting) // activating: not scraped until it is active

	targets, err := f.reg.PrometheusSD(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	want := `[` +
		`{"targets":["10.0.0.1:8000"],"labels":{"kind":"server","node":"srv-1"}},` +
		`{"targets":["10.0.0.5:9200"],"labels":{"kind":"worker","node":"wrk-1","zone":"sh-1"}},` +
		`{"targets":["10.0.0.5:9100"],"labels":{"kind":"worker","node":"wrk-stopped","zone":"sh-1"}},` +
		`{"targets":["[fd00::5]:9100"],"labels":{"kind":"worker","node":"wrk-v6"}}` +
		`]`
	if string(got) != want {
		t.Fatalf("SD output:\n got %s\nwant %s", got, want)
	}
	checkSDFormat(t, got)
}

// checkSDFormat decodes body the way Prometheus does and checks what it
// would refuse: a missing list, groups without targets, targets that are
// not host:port, label names outside the classic syntax.
func checkSDFormat(t *testing.T, body []byte) {
	t.Helper()
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&groups); err != nil {
		t.Fatalf("not a list of target groups: %v", err)
	}
	labelName := regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	for i, g := range groups {
		if len(g.Targets) == 0 {
			t.Errorf("group %d has no targets", i)
		}
		for _, target := range g.Targets {
			host, port, err := net.SplitHostPort(target)
			if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
				t.Errorf("group %d: target %q is not host:port", i, target)
			}
		}
		for name := range g.Labels {
			if !labelName.MatchString(name) || len(name) >= 2 && name[:2] == "__" {
				t.Errorf("group %d: label name %q is not a valid Prometheus label", i, name)
			}
		}
	}
}
