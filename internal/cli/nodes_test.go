package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// serverNode waits until serve's own worker pool is registered and active,
// and returns it: the one node of kind server in the server's registry.
func (s *server) serverNode() connecthub.Node {
	s.t.Helper()
	var self connecthub.Node
	waitFor(s.t, "serve's own node to be active", 30*time.Second, func() bool {
		nodes, err := s.client.ListNodes(context.Background())
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.Kind == connecthub.NodeKindServer && n.PresentState == connecthub.NodeActive {
				self = n
				return true
			}
		}
		return false
	})
	return self
}

// node returns one node from GET /nodes, or false when it is not listed.
func (s *server) node(name string) (connecthub.Node, bool) {
	s.t.Helper()
	nodes, err := s.client.ListNodes(context.Background())
	if err != nil {
		s.t.Fatalf("list nodes: %v", err)
	}
	for _, n := range nodes {
		if n.Name == name {
			return n, true
		}
	}
	return connecthub.Node{}, false
}

// keepalivesAfter waits until the node has sent n keepalives after its
// heartbeat `after`. Keepalives are this node's clock: the keepalive that
// reads a new setting state applies it before the next one is sent.
func (s *server) keepalivesAfter(name string, after time.Time, n int) time.Time {
	s.t.Helper()
	last, seen := after, 0
	waitFor(s.t, "keepalives of "+name, 30*time.Second, func() bool {
		got, ok := s.node(name)
		if ok && got.LastHeartbeat.After(last) {
			last = got.LastHeartbeat
			seen++
		}
		return seen >= n
	})
	return last
}

func TestNodesServeRegistersItself(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	self := s.serverNode()
	if self.SettingState != connecthub.NodeActive || self.MaxConcurrency != 20 || len(self.Queues) != 1 || self.Queues[0] != "default" {
		t.Fatalf("serve's node: %+v", self)
	}
	names := map[string]bool{}
	for _, h := range self.Handlers {
		names[h.Name] = true
	}
	if !names["noop"] || !names["sleep"] || !names["httpcall"] {
		t.Fatalf("serve's node must advertise the built-in handlers, got %v", names)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	if self.Endpoint != s.url {
		t.Fatalf("endpoint %q, want the server's URL %s", self.Endpoint, s.url)
	}

	// Prometheus service discovery lists it, in the documented format and
	// with a content type Prometheus accepts.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1/sd/prometheus", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("SD answered %d %q: %s", resp.StatusCode, ct, body)
	}
	var groups []client.SDTargetGroup
	if err := json.Unmarshal(body, &groups); err != nil {
		t.Fatalf("SD body %s: %v", body, err)
	}
	if len(groups) != 1 || len(groups[0].Targets) != 1 || groups[0].Targets[0] != "127.0.0.1:"+port ||
		groups[0].Labels["node"] != self.Name || groups[0].Labels["kind"] != "server" {
		t.Fatalf("SD groups: %s", body)
	}

	// GET /handlers names the node that serves each handler.
	code, out := s.do(http.MethodGet, "/api/v1/handlers", "")
	var hl struct {
		Handlers []struct {
			Name  string `json:"name"`
			Local bool   `json:"local"`
			Nodes []struct {
				Name         string `json:"name"`
				Kind         string `json:"kind"`
				PresentState string `json:"present_state"`
				SettingState string `json:"setting_state"`
			} `json:"nodes"`
		} `json:"handlers"`
	}
	if err := jsonUnmarshal(out, &hl); code != http.StatusOK || err != nil {
		t.Fatalf("GET /handlers: %d %s (%v)", code, out, err)
	}
	found := false
	for _, h := range hl.Handlers {
		if h.Name != "noop" {
			continue
		}
		found = true
		if !h.Local || len(h.Nodes) != 1 || h.Nodes[0].Name != self.Name || h.Nodes[0].Kind != "server" ||
			h.Nodes[0].PresentState != "active" || h.Nodes[0].SettingState != "active" {
			t.Fatalf("noop in GET /handlers: %+v", h)
		}
	}
	if !found {
		t.Fatalf("noop missing from GET /handlers: %s", out)
	}

	// The gauge counts it.
	code, metrics := s.do(http.MethodGet, "/metrics", "")
	if code != http.StatusOK || !strings.Contains(metrics, `connecthub_nodes{state="active"} 1`) {
		t.Fatalf("metrics lack connecthub_nodes{state=\"active\"} 1:\n%s", grepLines(metrics, "connecthub_nodes"))
	}

	// A graceful stop deregisters the node.
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	st, err := sqlitestore.Open(context.Background(), filepath.Join(s.dataDir, "connecthub.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.NodeGet(context.Background(), self.Name); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Fatalf("serve's node after a graceful stop: %v, want it deregistered", err)
	}
}

// TestNodesStopStartPausesClaiming: an operator's stop of serve's node
// pauses its pool (a new run stays QUEUED) and a start resumes it.
func TestNodesStopStartPausesClaiming(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	self := s.serverNode()
	s.createJob(`{"id":"ping","handler":"noop"}`)

	code, out, errOut := runCLI(t, env, "", "nodes", "stop", self.Name)
	if code != 0 || !strings.Contains(out, "setting state inactive") {
		t.Fatalf("nodes stop: exit %d\n%s%s", code, out, errOut)
	}
	stopped, _ := s.node(self.Name)
	if stopped.SettingState != connecthub.NodeInactive {
		t.Fatalf("after stop: setting state %q", stopped.SettingState)
	}
	// The first keepalive after the stop pauses the pool; the second
	// proves the first finished.
	hb := s.keepalivesAfter(self.Name, stopped.LastHeartbeat, 2)

	// A job saved now is accepted, with a warning that nobody will run it.
	code, body := s.do(http.MethodPost, "/api/v1/jobs", `{"id":"later","handler":"noop"}`)
	if code != http.StatusCreated || !strings.Contains(body, `"code":"handler_inactive"`) {
		t.Fatalf("job saved while the only node is stopped: %d %s; want 201 with a handler_inactive warning", code, body)
	}

	run := s.runNow("ping")
	// Several keepalives later (the pool would have been woken at once by
	// the new run), the run still waits.
	s.keepalivesAfter(self.Name, hb, 3)
	if r, err := s.client.GetRun(context.Background(), run.ID); err != nil || r.Status != connecthub.StatusQueued {
		t.Fatalf("run while the node is stopped: %+v, %v; want QUEUED", r, err)
	}

	code, body = s.do(http.MethodPost, "/api/v1/nodes/"+self.Name+"/start", "")
	if code != http.StatusOK || !strings.Contains(body, `"setting_state":"active"`) {
		t.Fatalf("start: %d %s", code, body)
	}
	s.waitStatus(run.ID, connecthub.StatusSuccess)

	for _, tt := range []struct {
		path string
		want int
	}{
		{"/api/v1/nodes/no-such-node/stop", http.StatusNotFound},
		{"/api/v1/nodes/bad%20name/start", http.StatusBadRequest},
	} {
		if code, body := s.do(http.MethodPost, tt.path, ""); code != tt.want || !strings.Contains(body, `"error"`) {
			t.Errorf("POST %s: %d %s, want %d", tt.path, code, body, tt.want)
		}
	}
}

// TestNodesDeadWorkerListedAndCleaned: a worker that went away without a
// prestop is declared dead by the server's reaper, shown inactive by
// `nodes list`, and removed by `nodes clean`.
func TestNodesDeadWorkerListedAndCleaned(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_NODE_DEAD_AFTER": "1s"})
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	self := s.serverNode()

	// A worker that last spoke two days ago, as its registration says.
	st, err := sqlitestore.Open(context.Background(), filepath.Join(s.dataDir, "connecthub.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	long := time.Now().Add(-48 * time.Hour)
	err = st.NodeUpsert(context.Background(), &connecthub.Node{
		Name: "gone-worker", Kind: connecthub.NodeKindWorker, Endpoint: "10.9.9.9:9100", Queues: []string{"default"},
		Handlers:       []connecthub.NodeHandler{{Name: "py.report", ConfigSchema: json.RawMessage(`{"type":"object","required":["sheet"]}`)}},
		MaxConcurrency: 2, SettingState: connecthub.NodeActive, PresentState: connecthub.NodeActive,
		RegisteredAt: long, LastHeartbeat: long,
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reaper to declare gone-worker dead", 30*time.Second, func() bool {
		n, ok := s.node("gone-worker")
		return ok && n.PresentState == connecthub.NodeInactive
	})

	// Jobs may still name the handler only the dead worker served, with a
	// warning, and are validated against the schema it advertised.
	code, body := s.do(http.MethodPost, "/api/v1/jobs", `{"id":"report","handler":"py.report","public_cfg":{}}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "invalid_config") {
		t.Fatalf("job against the worker's schema without its required field: %d %s", code, body)
	}
	code, body = s.do(http.MethodPost, "/api/v1/jobs", `{"id":"report","handler":"py.report","public_cfg":{"sheet":"q1"}}`)
	if code != http.StatusCreated || !strings.Contains(body, `"code":"handler_inactive"`) || !strings.Contains(body, "gone-worker") {
		t.Fatalf("job for a handler only a dead node serves: %d %s; want 201 with a handler_inactive warning", code, body)
	}
	code, body = s.do(http.MethodPost, "/api/v1/jobs", `{"id":"nobody","handler":"py.nobody"}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "unknown_handler") {
		t.Fatalf("job for a handler no node serves: %d %s", code, body)
	}

	code, out, errOut := runCLI(t, env, "", "nodes", "list")
	if code != 0 {
		t.Fatalf("nodes list: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "RUNNING/MAX") {
		t.Fatalf("nodes list:\n%s", out)
	}
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	if f := rows["gone-worker"]; len(f) < 5 || f[1] != "worker" || f[2] != "inactive" || f[3] != "active" || f[4] != "0/2" {
		t.Fatalf("gone-worker row %q in:\n%s", f, out)
	}
	if f := rows[self.Name]; len(f) < 5 || f[1] != "server" || f[2] != "active" || f[4] != "0/20" {
		t.Fatalf("serve's row %q in:\n%s", f, out)
	}
	code, out, _ = runCLI(t, env, "", "nodes", "list", "--json")
	var listed struct{ Nodes []connecthub.Node }
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || len(listed.Nodes) != 2 {
		t.Fatalf("nodes list --json: exit %d, %v:\n%s", code, err, out)
	}

	// Not old enough for a 72h threshold; old enough for the default 24h.
	if code, out, errOut = runCLI(t, env, "", "nodes", "clean", "--older-than", "72h"); code != 0 || !strings.Contains(out, "deleted 0") {
		t.Fatalf("nodes clean --older-than 72h: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, env, "", "nodes", "clean"); code != 0 || !strings.Contains(out, "deleted 1") {
		t.Fatalf("nodes clean: exit %d\n%s%s", code, out, errOut)
	}
	if _, ok := s.node("gone-worker"); ok {
		t.Fatal("gone-worker still listed after clean")
	}
	if _, ok := s.node(self.Name); !ok {
		t.Fatal("clean removed the live server node")
	}
	if code, _, errOut = runCLI(t, env, "", "nodes", "clean", "--older-than=-1h"); code != 2 {
		t.Fatalf("nodes clean --older-than -1h: exit %d (%s), want a usage error", code, errOut)
	}
	for _, body := range []string{`{"older_than":"soon"}`, `{"olderThan":"1h"}`, `[1]`} {
		if code, out := s.do(http.MethodPost, "/api/v1/nodes/clean", body); code != http.StatusBadRequest {
			t.Errorf("POST /nodes/clean %s: %d %s, want 400", body, code, out)
		}
	}
	if code, out := s.do(http.MethodPost, "/api/v1/nodes/clean", `{"older_than":"1h"}`); code != http.StatusOK || !strings.Contains(out, `"deleted":0`) {
		t.Errorf("POST /nodes/clean with a body: %d %s", code, out)
	}
}

// grepLines returns the lines of s that contain sub, for failure messages.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
