package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/node"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// fakeNodes is a node registry whose nodes the test sets directly.
type fakeNodes struct {
	nodes []*connecthub.Node
	err   error
}

func (f *fakeNodes) List(context.Context) ([]*connecthub.Node, error) { return f.nodes, f.err }
func (f *fakeNodes) Clean(context.Context, time.Duration) (int64, error) {
	return 0, nil
}
func (f *fakeNodes) SetSettingState(context.Context, string, string) (*connecthub.Node, error) {
	return nil, nil
}
func (f *fakeNodes) PrometheusSD(context.Context) ([]node.SDTarget, error) { return nil, nil }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// remote is a worker node that serves handlers; change adjusts it.
func remote(name string, handlers []connecthub.NodeHandler, change ...func(*connecthub.Node)) *connecthub.Node {
	n := &connecthub.Node{Name: name, Kind: connecthub.NodeKindWorker, Queues: []string{"default"}, Handlers: handlers,
		SettingState: connecthub.NodeActive, PresentState: connecthub.NodeActive, LastHeartbeat: t0}
	for _, c := range change {
		c(n)
	}
	return n
}

var (
	pyExport = connecthub.NodeHandler{Name: "py.export", Description: "export a form",
		ConfigSchema: json.RawMessage(`{"type":"object","required":["form"],"properties":{"form":{"type":"string"}}}`),
		SecretKeys:   []string{"password"}}
	serveNoop = connecthub.NodeHandler{Name: "noop"}
)

func stopped(n *connecthub.Node) { n.SettingState = connecthub.NodeInactive }
func dead(n *connecthub.Node)    { n.PresentState = connecthub.NodeInactive }

// newService builds a service over a fresh SQLite database with the noop
// handler local; nodes nil means no registry at all.
func newService(t *testing.T, nodes service.NodeRegistry) *service.Service {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "connecthub.db"), sqlitestore.Options{})
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
	if err := reg.Add(handler.Spec{Name: "noop", Func: func(context.Context, *handler.Task) (*handler.Result, error) { return nil, nil }}); err != nil {
		t.Fatal(err)
	}
	// shell is switched off, as in a server without CONNECTHUB_ENABLE_SHELL.
	cfg := service.Config{Store: st, Keys: keys, Registry: reg, Defaults: connecthub.JobDefaults{Timezone: "UTC"}, Now: func() time.Time { return t0 },
		DisabledHandlers: []string{"shell"}}
	if nodes != nil {
		cfg.Nodes = nodes
	}
	svc, err := service.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func jobInput(t *testing.T, body string) *connecthub.JobInput {
	t.Helper()
	in, err := connecthub.DecodeJobInput([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func codes(ws []service.Warning) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.Code)
	}
	return out
}

func TestJobSaveAgainstNodes(t *testing.T) {
	t.Parallel()
	const exportJob = `{"id":"j","handler":"py.export","public_cfg":{"form":"F1"},"secret_cfg":{"password":"p"}}`
	tests := []struct {
		name     string
		nodes    []*connecthub.Node // nil: no registry
		body     string
		errCode  string
		warnings []string
		inMsg    string // a warning message must mention it
	}{
		{name: "local handler without a registry", body: `{"id":"j","handler":"noop"}`, warnings: []string{}},
		{name: "local handler served by an active node",
			nodes: []*connecthub.Node{remote("srv", []connecthub.NodeHandler{serveNoop})},
			body:  `{"id":"j","handler":"noop"}`, warnings: []string{}},
		{name: "local handler no node serves",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport})},
			body:  `{"id":"j","handler":"noop"}`, warnings: []string{service.WarnHandlerUnserved}},
		{name: "handler only a remote node serves",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport})},
			body:  exportJob, warnings: []string{}},
		{name: "remote handler without a registry", body: exportJob, errCode: "unknown_handler"},
		{name: "unknown handler",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport})},
			body:  `{"id":"j","handler":"py.other"}`, errCode: "unknown_handler"},
		{name: "a handler a wildcard handler covers",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{{Name: "py:*"}})},
			body:  `{"id":"j","handler":"py:extensions.x.job:MyJob","secret_cfg":{"token":"t"}}`, warnings: []string{}},
		{name: "a handler outside the wildcard's prefix",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{{Name: "py:*"}})},
			body:  `{"id":"j","handler":"px:other"}`, errCode: "unknown_handler"},
		{name: "an exact handler wins over a wildcard",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{{Name: "py.*"}, pyExport})},
			body:  `{"id":"j","handler":"py.export","public_cfg":{"form":"F1"}}`, errCode: "missing_secret"},
		{name: "a wildcard does not enable a disabled handler",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{{Name: "sh*"}})},
			body:  `{"id":"j","handler":"shell","public_cfg":{"command":"id"}}`, errCode: "handler_disabled"},
		{name: "a handler this server disabled, advertised by a worker",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{{Name: "shell"}})},
			body:  `{"id":"j","handler":"shell","public_cfg":{"command":"id"}}`, errCode: "handler_disabled"},
		{name: "remote schema applies",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport})},
			body:  `{"id":"j","handler":"py.export","public_cfg":{"form":1},"secret_cfg":{"password":"p"}}`, errCode: "invalid_config"},
		{name: "remote secret keys apply",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport})},
			body:  `{"id":"j","handler":"py.export","public_cfg":{"form":"F1"}}`, errCode: "missing_secret"},
		{name: "every serving node stopped",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport}, stopped), remote("w2", []connecthub.NodeHandler{pyExport}, dead)},
			body:  exportJob, warnings: []string{service.WarnHandlerInactive}, inMsg: "w1 stopped, w2 inactive"},
		{name: "one serving node active is enough",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport}, stopped), remote("w2", []connecthub.NodeHandler{pyExport})},
			body:  exportJob, warnings: []string{}},
		{name: "a shutting-down node does not count",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport}, func(n *connecthub.Node) { n.PresentState = connecthub.NodeDeactivating })},
			body:  exportJob, warnings: []string{service.WarnHandlerInactive}},
		{name: "no active serving node claims the queue",
			nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport}, func(n *connecthub.Node) { n.Queues = []string{"bulk", "etl"} })},
			body:  exportJob, warnings: []string{service.WarnQueueUnserved}, inMsg: "bulk, etl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reg service.NodeRegistry
			if tt.nodes != nil {
				reg = &fakeNodes{nodes: tt.nodes}
			}
			svc := newService(t, reg)
			j, warnings, err := svc.JobCreateWithWarnings(context.Background(), jobInput(t, tt.body))
			if tt.errCode != "" {
				var e *connecthub.Error
				if !errors.As(err, &e) || e.Code != tt.errCode {
					t.Fatalf("want error %s, got %v", tt.errCode, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := codes(warnings); !slices.Equal(got, tt.warnings) {
				t.Fatalf("warnings %v (%+v), want %v", got, warnings, tt.warnings)
			}
			if tt.inMsg != "" && !strings.Contains(warnings[0].Message, tt.inMsg) {
				t.Fatalf("warning %q does not mention %q", warnings[0].Message, tt.inMsg)
			}
			if _, err := svc.JobGet(context.Background(), j.ID); err != nil {
				t.Fatalf("the job was not stored: %v", err)
			}
		})
	}
}

// TestJobUpdateAgainstNodes: an update that moves a job to a handler only
// a stopped node serves is saved, with the warning.
func TestJobUpdateAgainstNodes(t *testing.T) {
	t.Parallel()
	nodes := &fakeNodes{nodes: []*connecthub.Node{
		remote("srv", []connecthub.NodeHandler{serveNoop}),
		remote("w1", []connecthub.NodeHandler{pyExport}, stopped),
	}}
	svc := newService(t, nodes)
	ctx := context.Background()
	if _, warnings, err := svc.JobCreateWithWarnings(ctx, jobInput(t, `{"id":"j","handler":"noop"}`)); err != nil || len(warnings) != 0 {
		t.Fatalf("create: %v, %v", warnings, err)
	}
	j, warnings, err := svc.JobUpdateWithWarnings(ctx, "j", jobInput(t, `{"handler":"py.export","public_cfg":{"form":"F"},"secret_cfg":{"password":"p"}}`))
	if err != nil || j.Handler != "py.export" || !slices.Equal(codes(warnings), []string{service.WarnHandlerInactive}) {
		t.Fatalf("update: %+v, %v, %v", j, warnings, err)
	}
	if _, _, err := svc.JobUpdateWithWarnings(ctx, "j", jobInput(t, `{"public_cfg":{}}`)); err == nil {
		t.Fatal("an update must be validated against the node's schema too")
	}
	// The registry cannot be read: the save fails rather than skipping
	// the checks.
	nodes.err = errors.New("database is down")
	if _, _, err := svc.JobUpdateWithWarnings(ctx, "j", jobInput(t, `{"description":"x"}`)); err == nil {
		t.Fatal("an update while the registry cannot be read must fail")
	}
	// The plain JobUpdate, without warnings, behaves the same otherwise.
	nodes.err = nil
	if j, err := svc.JobUpdate(ctx, "j", jobInput(t, `{"description":"x"}`)); err != nil || j.Description != "x" {
		t.Fatalf("JobUpdate: %+v, %v", j, err)
	}
}

// TestRemoteSchemaChanges: a worker that registers a new version of its
// schema is validated against the new one (the schema cache is keyed by
// the schema, not only the handler's name).
func TestRemoteSchemaChanges(t *testing.T) {
	t.Parallel()
	h := connecthub.NodeHandler{Name: "py.x", ConfigSchema: json.RawMessage(`{"type":"object","required":["a"]}`)}
	nodes := &fakeNodes{nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{h})}}
	svc := newService(t, nodes)
	ctx := context.Background()
	if _, _, err := svc.JobCreateWithWarnings(ctx, jobInput(t, `{"id":"j1","handler":"py.x","public_cfg":{"a":1}}`)); err != nil {
		t.Fatal(err)
	}
	h.ConfigSchema = json.RawMessage(`{"type":"object","required":["b"]}`)
	nodes.nodes = []*connecthub.Node{remote("w1", []connecthub.NodeHandler{h})}
	if _, _, err := svc.JobCreateWithWarnings(ctx, jobInput(t, `{"id":"j2","handler":"py.x","public_cfg":{"a":1}}`)); err == nil {
		t.Fatal("the new schema (requires b) was not applied")
	}
	// Two versions side by side: the active node's schema wins over the
	// stopped one's, whatever their order.
	old := connecthub.NodeHandler{Name: "py.x", ConfigSchema: json.RawMessage(`{"type":"object","required":["a"]}`)}
	nodes.nodes = []*connecthub.Node{remote("a-old", []connecthub.NodeHandler{old}, stopped), remote("z-new", []connecthub.NodeHandler{h})}
	if _, _, err := svc.JobCreateWithWarnings(ctx, jobInput(t, `{"id":"j3","handler":"py.x","public_cfg":{"b":1}}`)); err != nil {
		t.Fatalf("the active node's schema must win: %v", err)
	}
}

func TestHandlerList(t *testing.T) {
	t.Parallel()
	nodes := &fakeNodes{nodes: []*connecthub.Node{
		remote("w2", []connecthub.NodeHandler{pyExport, serveNoop}, stopped),
		remote("srv", []connecthub.NodeHandler{serveNoop}, func(n *connecthub.Node) { n.Kind = connecthub.NodeKindServer }),
	}}
	svc := newService(t, nodes)
	list, err := svc.HandlerList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(list)
	got := string(b)
	want := `[` +
		`{"name":"noop","description":"","config_schema":null,"secret_keys":[],"local":true,"nodes":[` +
		`{"name":"srv","kind":"server","present_state":"active","setting_state":"active"},` +
		`{"name":"w2","kind":"worker","present_state":"active","setting_state":"inactive"}]},` +
		`{"name":"py.export","description":"export a form","config_schema":{"type":"object","required":["form"],"properties":{"form":{"type":"string"}}},"secret_keys":["password"],"local":false,"nodes":[` +
		`{"name":"w2","kind":"worker","present_state":"active","setting_state":"inactive"}]}` +
		`]`
	if got != want {
		t.Fatalf("HandlerList:\n got %s\nwant %s", got, want)
	}

	// Without a registry: the local handlers, served by no known node.
	list, err = newService(t, nil).HandlerList(context.Background())
	if err != nil || len(list) != 1 || list[0].Name != "noop" || len(list[0].Nodes) != 0 || !list[0].Local {
		t.Fatalf("HandlerList without a registry: %+v, %v", list, err)
	}
}

func TestNodeCallsWithoutRegistry(t *testing.T) {
	t.Parallel()
	svc := newService(t, nil)
	ctx := context.Background()
	_, err1 := svc.NodeList(ctx)
	_, err2 := svc.NodeClean(ctx, 0)
	_, err3 := svc.NodeSetState(ctx, "n", connecthub.NodeActive)
	_, err4 := svc.PrometheusSD(ctx)
	for i, err := range []error{err1, err2, err3, err4} {
		var e *connecthub.Error
		if !errors.As(err, &e) || e.Kind != connecthub.KindUnavailable || e.Code != "no_node_registry" {
			t.Errorf("call %d without a registry: %v, want no_node_registry", i, err)
		}
	}
}
