package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/node"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a settable clock shared by the registry and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a registry over a fresh SQLite database with a fake clock.
type fixture struct {
	t     *testing.T
	st    *sqlitestore.Store
	clock *clock
	reg   *node.Registry
}

// setup builds a registry with DeadAfter 30s; change adjusts its Config.
func setup(t *testing.T, change ...func(*node.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "connecthub.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := newClock()
	cfg := node.Config{Store: st, DeadAfter: 30 * time.Second, Now: clk.Now}
	for _, c := range change {
		c(&cfg)
	}
	reg, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, st: st, clock: clk, reg: reg}
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

// waitFor polls cond until it holds: the reaper and the keepalive loop run
// on real tickers, so the test waits on the state they produce.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
