package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/maintenance"
	"github.com/connecthub/connecthub/internal/node"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
	"github.com/connecthub/connecthub/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture is a registry over a fresh SQLite database with a fake clock,
// and the dead-node reaper of maintenance over the same store and clock
// (not started: tests call its ReapOnce).
type fixture struct {
	t      *testing.T
	st     *sqlitestore.Store
	clock  *clock.Fake
	reg    *node.Registry
	reaper *maintenance.NodeReaper
}

// setup builds a registry with DeadAfter 30s; change adjusts its Config.
func setup(t *testing.T, change ...func(*node.Config)) *fixture {
	t.Helper()
	st, clk := testenv.SQLite(t), testenv.Clock()
	cfg := node.Config{Store: st, DeadAfter: 30 * time.Second, Clock: clk}
	for _, c := range change {
		c(&cfg)
	}
	reg, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reaper, err := maintenance.NewNodeReaper(maintenance.NodeReaperConfig{Store: st, DeadAfter: reg.DeadAfter(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, st: st, clock: clk, reg: reg, reaper: reaper}
}

// workerNode is a valid registration of a worker named name.
func workerNode(name string) *connecthub.Node {
	return &connecthub.Node{
		Name:           name,
		Kind:           connecthub.NodeKindWorker,
		Version:        "1.2.3",
		Endpoint:       "http://10.0.0.5:9100",
		Queues:         []string{"default"},
		Handlers:       []connecthub.NodeHandler{{Name: "noop"}, {Name: "py.export", ConfigSchema: json.RawMessage(`{"type":"object"}`), SecretKeys: []string{"token"}}},
		MaxConcurrency: 4,
		Labels:         map[string]string{"zone": "sh-1"},
	}
}

func (f *fixture) register(n *connecthub.Node) *connecthub.Node {
	f.t.Helper()
	got, err := f.reg.Register(context.Background(), n)
	if err != nil {
		f.t.Fatalf("register %s: %v", n.Name, err)
	}
	return got
}

func (f *fixture) get(name string) *connecthub.Node {
	f.t.Helper()
	n, err := f.st.NodeGet(context.Background(), name)
	if err != nil {
		f.t.Fatalf("get node %s: %v", name, err)
	}
	return n
}

// runningRun creates a job with maxAttempts and a run of it claimed by
// nodeName with a lease far longer than the test, so only dead-node
// detection can rescue it.
func (f *fixture) runningRun(jobID, nodeName string, maxAttempts int) *connecthub.Run {
	f.t.Helper()
	ctx := context.Background()
	now := f.clock.Now()
	j, _, err := connecthub.NewJob(&connecthub.JobInput{ID: &jobID, Handler: ptr("noop"), MaxAttempts: &maxAttempts},
		connecthub.JobDefaults{Timezone: "UTC"}, now)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.JobCreate(ctx, j); err != nil {
		f.t.Fatal(err)
	}
	r := connecthub.NewRun(j, connecthub.TriggerManual, now, now, "test")
	if err := f.st.RunInsert(ctx, []*connecthub.Run{r}); err != nil {
		f.t.Fatal(err)
	}
	claimed, err := f.st.RunClaim(ctx, store.RunClaimParams{Node: nodeName, Queues: []string{"default"}, Max: 1, LeaseTTL: time.Hour, Now: now})
	if err != nil || len(claimed) != 1 || claimed[0].ID != r.ID {
		f.t.Fatalf("claim run of %s on %s: %v (%d runs)", jobID, nodeName, err, len(claimed))
	}
	return claimed[0]
}

func ptr[T any](v T) *T { return &v }

// requireError checks an error's kind, code and field.
func requireError(t *testing.T, err error, kind connecthub.Kind, code, field string) {
	t.Helper()
	var e *connecthub.Error
	if err == nil {
		t.Fatalf("want a %s error (code %s), got none", kind, code)
	}
	if !errors.As(err, &e) {
		t.Fatalf("want *connecthub.Error, got %T: %v", err, err)
	}
	if e.Kind != kind || (code != "" && e.Code != code) || (field != "" && e.Field != field) {
		t.Fatalf("want kind %s code %q field %q, got kind %s code %q field %q: %v", kind, code, field, e.Kind, e.Code, e.Field, err)
	}
}
