package node_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/node"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	if _, err := node.New(node.Config{}); err == nil || !strings.Contains(err.Error(), "Store is required") {
		t.Fatalf("New without a store: want an error naming Store, got %v", err)
	}
	d := node.Config{}.WithDefaults()
	if d.DeadAfter != 30*time.Second || d.Clock == nil {
		t.Fatalf("defaults: DeadAfter %s Clock %v, want 30s and the real clock", d.DeadAfter, d.Clock)
	}
	f := setup(t)
	if _, err := node.New(node.Config{Store: f.st, DeadAfter: -time.Second}); err == nil {
		t.Fatal("a negative DeadAfter must be refused")
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	f := setup(t)
	in := workerNode("w1")
	in.PresentState, in.SettingState = "bogus", "bogus" // the registry's to set
	got := f.register(in)
	now := f.clock.Now()
	if got.PresentState != connecthub.NodeActivating || got.SettingState != connecthub.NodeActive {
		t.Fatalf("states after register: present %q setting %q, want activating/active", got.PresentState, got.SettingState)
	}
	if !got.RegisteredAt.Equal(now) || !got.LastHeartbeat.Equal(now) {
		t.Fatalf("times: registered %s heartbeat %s, want both %s", got.RegisteredAt, got.LastHeartbeat, now)
	}
	if got.Kind != connecthub.NodeKindWorker || got.Endpoint != "http://10.0.0.5:9100" || len(got.Handlers) != 2 ||
		got.Handlers[1].SecretKeys[0] != "token" || got.Labels["zone"] != "sh-1" || got.MaxConcurrency != 4 {
		t.Fatalf("registration not stored as sent: %+v", got)
	}
	if in.PresentState != "bogus" {
		t.Fatal("Register modified its argument")
	}

	// An operator stops the node; the node restarts and registers again:
	// the stop holds, the first registration time is kept, the rest is
	// refreshed.
	if _, err := f.reg.SetSettingState(context.Background(), "w1", connecthub.NodeInactive); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	again := workerNode("w1")
	again.Version = "1.2.4"
	again.Queues = []string{"default", "bulk"}
	got = f.register(again)
	if got.SettingState != connecthub.NodeInactive {
		t.Fatalf("an operator's stop must survive a re-registration, got setting %q", got.SettingState)
	}
	if !got.RegisteredAt.Equal(now) || !got.LastHeartbeat.Equal(now.Add(time.Minute)) {
		t.Fatalf("re-registration times: registered %s (want %s) heartbeat %s", got.RegisteredAt, now, got.LastHeartbeat)
	}
	if got.Version != "1.2.4" || len(got.Queues) != 2 || got.PresentState != connecthub.NodeActivating {
		t.Fatalf("re-registration did not refresh the node: %+v", got)
	}
}

func TestRegisterRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name   string
		change func(n *connecthub.Node)
		field  string
	}{
		{"empty name", func(n *connecthub.Node) { n.Name = "" }, "name"},
		{"name with a space", func(n *connecthub.Node) { n.Name = "my node" }, "name"},
		{"name too long", func(n *connecthub.Node) { n.Name = strings.Repeat("n", 129) }, "name"},
		{"unknown kind", func(n *connecthub.Node) { n.Kind = "robot" }, "kind"},
		{"no kind", func(n *connecthub.Node) { n.Kind = "" }, "kind"},
		{"no queues", func(n *connecthub.Node) { n.Queues = nil }, "queues"},
		{"empty queue", func(n *connecthub.Node) { n.Queues = []string{"default", ""} }, "queues[1]"},
		{"duplicate queue", func(n *connecthub.Node) { n.Queues = []string{"a", "a"} }, "queues[1]"},
		{"no handlers", func(n *connecthub.Node) { n.Handlers = nil }, "handlers"},
		{"handler without a name", func(n *connecthub.Node) { n.Handlers = []connecthub.NodeHandler{{Name: "a"}, {}} }, "handlers[1].name"},
		{"duplicate handler", func(n *connecthub.Node) { n.Handlers = []connecthub.NodeHandler{{Name: "a"}, {Name: "a"}} }, "handlers[1].name"},
		{"wildcard alone", func(n *connecthub.Node) { n.Handlers = []connecthub.NodeHandler{{Name: "*"}} }, "handlers[0].name"},
		{"wildcard not at the end", func(n *connecthub.Node) { n.Handlers = []connecthub.NodeHandler{{Name: "py:*x"}} }, "handlers[0].name"},
		{"wildcard name too long", func(n *connecthub.Node) {
			n.Handlers = []connecthub.NodeHandler{{Name: strings.Repeat("p", 128) + "*"}}
		}, "handlers[0].name"},
		{"schema not an object", func(n *connecthub.Node) {
			n.Handlers = []connecthub.NodeHandler{{Name: "a", ConfigSchema: json.RawMessage(`[1]`)}}
		}, "handlers[0].config_schema"},
		{"empty secret key", func(n *connecthub.Node) {
			n.Handlers = []connecthub.NodeHandler{{Name: "a", SecretKeys: []string{" "}}}
		}, "handlers[0].secret_keys[0]"},
		{"endpoint not a URL", func(n *connecthub.Node) { n.Endpoint = "ftp://x:1" }, "endpoint"},
		{"endpoint without a port", func(n *connecthub.Node) { n.Endpoint = "10.0.0.5" }, "endpoint"},
		{"endpoint port out of range", func(n *connecthub.Node) { n.Endpoint = "http://h:70000" }, "endpoint"},
		{"negative concurrency", func(n *connecthub.Node) { n.MaxConcurrency = -1 }, "max_concurrency"},
		{"metrics port out of range", func(n *connecthub.Node) { n.MetricsPort = 65536 }, "metrics_port"},
		{"negative running", func(n *connecthub.Node) { n.Running = -1 }, "running"},
		{"label name not Prometheus", func(n *connecthub.Node) { n.Labels = map[string]string{"rack-id": "1"} }, "labels.rack-id"},
		{"label name reserved by Prometheus", func(n *connecthub.Node) { n.Labels = map[string]string{"__address__": "x"} }, "labels.__address__"},
		{"label set by the registry", func(n *connecthub.Node) { n.Labels = map[string]string{"node": "x"} }, "labels.node"},
		{"version too long", func(n *connecthub.Node) { n.Version = strings.Repeat("v", 129) }, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := workerNode("bad")
			tt.change(n)
			_, err := f.reg.Register(context.Background(), n)
			requireError(t, err, connecthub.KindInvalid, "", tt.field)
		})
	}
	if _, err := f.reg.Register(context.Background(), nil); !connecthub.IsKind(err, connecthub.KindInvalid) {
		t.Fatalf("nil registration: want KindInvalid, got %v", err)
	}
	nodes, err := f.reg.List(context.Background())
	if err != nil || len(nodes) != 0 {
		t.Fatalf("refused registrations must store nothing, got %d nodes (%v)", len(nodes), err)
	}
}

func TestRegisterAcceptsEndpointForms(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for i, ep := range []string{"", "http://h:1", "https://h", "h.example:9100", "[::1]:9100", "http://[fe80::1]:80/x"} {
		n := workerNode("w" + string(rune('a'+i)))
		n.Endpoint = ep
		if _, err := f.reg.Register(context.Background(), n); err != nil {
			t.Errorf("endpoint %q refused: %v", ep, err)
		}
	}
}

// TestRegisterAcceptsWildcardHandler: a prefix followed by * is a handler
// name a node may advertise (it serves every handler the prefix starts).
func TestRegisterAcceptsWildcardHandler(t *testing.T) {
	t.Parallel()
	f := setup(t)
	n := workerNode("py")
	n.Handlers = []connecthub.NodeHandler{{Name: "py:*"}, {Name: "py.echo"}}
	got, err := f.reg.Register(context.Background(), n)
	if err != nil {
		t.Fatalf("wildcard handler refused: %v", err)
	}
	if len(got.Handlers) != 2 || got.Handlers[0].Name != "py:*" {
		t.Fatalf("handlers stored as %+v", got.Handlers)
	}
}

func TestKeepalive(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.register(workerNode("w1"))
	f.clock.Advance(5 * time.Second)

	n, err := f.reg.Keepalive(ctx, "w1", connecthub.NodeActive, 3)
	if err != nil {
		t.Fatal(err)
	}
	if n.PresentState != connecthub.NodeActive || n.Running != 3 || !n.LastHeartbeat.Equal(f.clock.Now()) || n.SettingState != connecthub.NodeActive {
		t.Fatalf("after keepalive: %+v", n)
	}
	// An operator's stop is what the next keepalive tells the node.
	if _, err := f.reg.SetSettingState(ctx, "w1", connecthub.NodeInactive); err != nil {
		t.Fatal(err)
	}
	if n, err = f.reg.Keepalive(ctx, "w1", "", 0); err != nil || n.SettingState != connecthub.NodeInactive || n.PresentState != connecthub.NodeActive {
		t.Fatalf("keepalive after stop: %+v, %v (want setting inactive, present unchanged)", n, err)
	}

	bad := []struct {
		name, node, state string
		running           int
		field             string
	}{
		{"inactive is the server's", "w1", connecthub.NodeInactive, 0, "state"},
		{"unknown state", "w1", "sleeping", 0, "state"},
		{"negative running", "w1", "", -1, "running"},
		{"bad name", "a b", "", 0, "name"},
	}
	for _, tt := range bad {
		_, err := f.reg.Keepalive(ctx, tt.node, tt.state, tt.running)
		requireError(t, err, connecthub.KindInvalid, "", tt.field)
	}
	_, err = f.reg.Keepalive(ctx, "ghost", "", 0)
	requireError(t, err, connecthub.KindNotFound, "not_registered", "")
}

// TestDeadNodeRunsRescuedAtOnce is the registry's reason to exist: a node
// that stops sending keepalives is declared dead after DeadAfter, and its
// RUNNING runs are rescued then, not when their (here hour-long) leases
// expire. A live node's runs are left alone.
func TestDeadNodeRunsRescuedAtOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.register(workerNode("dead"))
	f.register(workerNode("alive"))
	retried := f.runningRun("job-retry", "dead", 2)
	failed := f.runningRun("job-fail", "dead", 1)
	kept := f.runningRun("job-kept", "alive", 1)

	// Silent for exactly DeadAfter: not dead yet.
	f.clock.Advance(30 * time.Second)
	if _, err := f.reg.Keepalive(ctx, "alive", connecthub.NodeActive, 1); err != nil {
		t.Fatal(err)
	}
	dead, rescued, err := f.reaper.ReapOnce(ctx)
	if err != nil || len(dead) != 0 || len(rescued) != 0 {
		t.Fatalf("reap at DeadAfter: %d dead, %d rescued, %v; want nothing yet", len(dead), len(rescued), err)
	}

	f.clock.Advance(time.Second)
	dead, rescued, err = f.reaper.ReapOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Name != "dead" {
		t.Fatalf("dead nodes: %+v, want [dead]", dead)
	}
	if len(rescued) != 2 {
		t.Fatalf("rescued %d runs, want 2: %+v", len(rescued), rescued)
	}
	if n := f.get("dead"); n.PresentState != connecthub.NodeInactive {
		t.Fatalf("dead node present state %q, want inactive", n.PresentState)
	}
	if n := f.get("alive"); n.PresentState != connecthub.NodeActive {
		t.Fatalf("live node present state %q, want active", n.PresentState)
	}
	r, err := f.st.RunGet(ctx, retried.ID)
	if err != nil || r.Status != connecthub.StatusQueued || r.Attempt != 2 {
		t.Fatalf("run with attempts left: %+v (%v), want QUEUED attempt 2", r, err)
	}
	r, err = f.st.RunGet(ctx, failed.ID)
	if err != nil || r.Status != connecthub.StatusFailure || !strings.Contains(r.Error, "worker lost") {
		t.Fatalf("run without attempts left: %+v (%v), want FAILURE worker lost", r, err)
	}
	r, err = f.st.RunGet(ctx, kept.ID)
	if err != nil || r.Status != connecthub.StatusRunning {
		t.Fatalf("the live node's run: %+v (%v), want still RUNNING", r, err)
	}

	// A second pass finds nothing new: the node is already inactive.
	if dead, rescued, err = f.reaper.ReapOnce(ctx); err != nil || len(dead)+len(rescued) != 0 {
		t.Fatalf("second reap: %d dead, %d rescued, %v", len(dead), len(rescued), err)
	}
	// The dead node comes back: its keepalive makes it alive again.
	n, err := f.reg.Keepalive(ctx, "dead", "", 0)
	if err != nil || n.PresentState != connecthub.NodeActive {
		t.Fatalf("keepalive of a node declared dead: %+v, %v; want it active again", n, err)
	}
}

func TestCleanThenKeepaliveMustRegisterAgain(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.register(workerNode("old"))
	f.register(workerNode("live"))
	f.clock.Advance(time.Minute)
	if _, err := f.reg.Keepalive(ctx, "live", connecthub.NodeActive, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.reaper.ReapOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// "old" is inactive, silent for 1 minute: too young for the default age.
	if n, err := f.reg.Clean(ctx, 0); err != nil || n != 0 {
		t.Fatalf("clean with the default 24h: deleted %d (%v), want 0", n, err)
	}
	_, err := f.reg.Clean(ctx, -time.Second)
	requireError(t, err, connecthub.KindInvalid, "", "older_than")

	f.clock.Advance(24 * time.Hour)
	if _, err := f.reg.Keepalive(ctx, "live", connecthub.NodeActive, 0); err != nil {
		t.Fatal(err)
	}
	n, err := f.reg.Clean(ctx, 0)
	if err != nil || n != 1 {
		t.Fatalf("clean after 24h: deleted %d (%v), want 1 (the live node is never cleaned)", n, err)
	}
	_, err = f.reg.Keepalive(ctx, "old", connecthub.NodeActive, 0)
	requireError(t, err, connecthub.KindNotFound, "not_registered", "")
	if got := f.register(workerNode("old")); got.PresentState != connecthub.NodeActivating {
		t.Fatalf("registering again: %+v", got)
	}
}

func TestPrestop(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.register(workerNode("w1"))
	if err := f.reg.Prestop(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.NodeGet(ctx, "w1"); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Fatalf("node after prestop: %v, want not found", err)
	}
	// Retried after a lost answer: still fine.
	if err := f.reg.Prestop(ctx, "w1"); err != nil {
		t.Fatalf("second prestop: %v", err)
	}
	requireError(t, f.reg.Prestop(ctx, ""), connecthub.KindInvalid, "", "name")
}

func TestSetSettingState(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.register(workerNode("w1"))
	n, err := f.reg.SetSettingState(ctx, "w1", connecthub.NodeInactive)
	if err != nil || n.SettingState != connecthub.NodeInactive || n.PresentState != connecthub.NodeActivating {
		t.Fatalf("stop: %+v, %v", n, err)
	}
	if n, err = f.reg.SetSettingState(ctx, "w1", connecthub.NodeActive); err != nil || n.SettingState != connecthub.NodeActive {
		t.Fatalf("start: %+v, %v", n, err)
	}
	_, err = f.reg.SetSettingState(ctx, "w1", "paused")
	requireError(t, err, connecthub.KindInvalid, "", "setting_state")
	_, err = f.reg.SetSettingState(ctx, "ghost", connecthub.NodeActive)
	requireError(t, err, connecthub.KindNotFound, "", "")
}

func TestListOrderAndEmptyCollections(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	nodes, err := f.reg.List(ctx)
	if err != nil || nodes == nil || len(nodes) != 0 {
		t.Fatalf("empty registry: %v, %v; want a non-nil empty list", nodes, err)
	}
	n := workerNode("b")
	n.Labels = nil
	f.register(n)
	f.register(workerNode("a"))
	nodes, err = f.reg.List(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].Name != "a" || nodes[1].Name != "b" {
		t.Fatalf("list: %v, %v; want a then b", nodes, err)
	}
	b, _ := json.Marshal(nodes[1])
	if !strings.Contains(string(b), `"labels":{}`) {
		t.Fatalf("labels must marshal as {}, got %s", b)
	}
}

func TestNodesMetric(t *testing.T) {
	t.Parallel()
	promReg := prometheus.NewRegistry()
	f := setup(t, func(c *node.Config) { c.Metrics = promReg })
	ctx := context.Background()
	f.register(workerNode("a"))
	f.register(workerNode("b"))
	f.register(workerNode("c"))
	if _, err := f.reg.Keepalive(ctx, "b", connecthub.NodeActive, 0); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.reg.Keepalive(ctx, "c", connecthub.NodeDeactivating, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.reaper.ReapOnce(ctx); err != nil { // a and b are dead
		t.Fatal(err)
	}
	f.register(workerNode("d"))
	want := map[string]float64{"activating": 1, "active": 0, "deactivating": 1, "inactive": 2}
	if got := gatherNodes(t, promReg); !maps.Equal(got, want) {
		t.Fatalf("connecthub_nodes: got %v, want %v", got, want)
	}
	// Registering the collector twice on one registry is a wiring bug
	// that New reports.
	if _, err := node.New(node.Config{Store: f.st, Metrics: promReg}); err == nil {
		t.Fatal("a second registry on the same Registerer must fail")
	}
}

// gatherNodes returns connecthub_nodes by state, as a scrape would see it.
func gatherNodes(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != "connecthub_nodes" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}
