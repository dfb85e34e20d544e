package node_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/node"
	"github.com/connecthub/connecthub/internal/testenv"
)

// pool records Pause and Resume calls, in order.
type pool struct {
	mu    sync.Mutex
	calls []string
}

func (p *pool) Pause()  { p.record("pause") }
func (p *pool) Resume() { p.record("resume") }

func (p *pool) record(c string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, c)
}

func (p *pool) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

func serverNode(name string) *connecthub.Node {
	return &connecthub.Node{Name: name, Kind: connecthub.NodeKindServer, Endpoint: "http://127.0.0.1:8000",
		Queues: []string{"default"}, Handlers: []connecthub.NodeHandler{{Name: "noop"}}, MaxConcurrency: 20}
}

// heartbeat is the keepalive period of the tests' Self, on the fixture's
// fake clock.
const heartbeat = time.Second

func newSelf(t *testing.T, f *fixture, name string, p node.Pauser, running func() int) *node.Self {
	t.Helper()
	s, err := node.NewSelf(node.SelfConfig{Registry: f.reg, Node: serverNode(name), Heartbeat: heartbeat, Running: running, Pool: p, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// nextBeat moves the fake clock to the next keepalive and waits until Self
// sent it and waits again: Self arms its timer only between keepalives, so
// a pending timer means the keepalive is done.
func nextBeat(t *testing.T, f *fixture) {
	t.Helper()
	f.clock.Advance(heartbeat)
	idle(t, f)
}

// idle waits until Self is between keepalives.
func idle(t *testing.T, f *fixture) {
	t.Helper()
	if err := f.clock.BlockUntilTimersContext(testenv.Context(t), 1); err != nil {
		t.Fatalf("waiting for a keepalive: %v", err)
	}
}

func TestSelfLifecycle(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var running atomic.Int64
	running.Store(3)
	p := &pool{}
	s := newSelf(t, f, "srv-1", p, func() int { return int(running.Load()) })
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Start returns once the node is registered: it is listed at once.
	if _, err := f.st.NodeGet(ctx, "srv-1"); err != nil {
		t.Fatalf("node not registered when Start returned: %v", err)
	}
	idle(t, f) // the first keepalive, at once
	if n := f.get("srv-1"); n.PresentState != connecthub.NodeActive || n.Running != 3 {
		t.Fatalf("after the first keepalive: present %q running %d, want active with 3", n.PresentState, n.Running)
	}

	// An operator stops the node: the next keepalive pauses the pool; a
	// start resumes it.
	if _, err := f.reg.SetSettingState(ctx, "srv-1", connecthub.NodeInactive); err != nil {
		t.Fatal(err)
	}
	nextBeat(t, f)
	if got := p.Calls(); len(got) != 1 {
		t.Fatalf("pool calls after a stop: %v, want [pause]", got)
	}
	if _, err := f.reg.SetSettingState(ctx, "srv-1", connecthub.NodeActive); err != nil {
		t.Fatal(err)
	}
	nextBeat(t, f)
	if got := p.Calls(); got[0] != "pause" || got[1] != "resume" {
		t.Fatalf("pool calls %v, want [pause resume]", got)
	}

	// An operator cleans the node away (say it was wrongly declared dead):
	// the node registers again by itself.
	if err := f.st.NodeDelete(ctx, "srv-1"); err != nil {
		t.Fatal(err)
	}
	nextBeat(t, f)
	if n, err := f.st.NodeGet(ctx, "srv-1"); err != nil || n.PresentState != connecthub.NodeActive {
		t.Fatalf("after a keepalive of a cleaned node: %+v, %v; want it registered again, active", n, err)
	}

	s.Deactivate(ctx)
	if n := f.get("srv-1"); n.PresentState != connecthub.NodeDeactivating {
		t.Fatalf("after Deactivate: present %q, want deactivating", n.PresentState)
	}
	// Keepalives go on reporting deactivating while the pool drains.
	before := f.get("srv-1").LastHeartbeat
	nextBeat(t, f)
	if after := f.get("srv-1").LastHeartbeat; !after.After(before) {
		t.Fatalf("no keepalive after Deactivate: last heartbeat %v, before %v", after, before)
	}
	if n := f.get("srv-1"); n.PresentState != connecthub.NodeDeactivating {
		t.Fatalf("a keepalive after Deactivate reported %q", n.PresentState)
	}

	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.NodeGet(ctx, "srv-1"); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Fatalf("node after Stop: %v, want it deregistered", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if len(p.Calls()) != 2 {
		t.Fatalf("unexpected pool calls %v", p.Calls())
	}
}

// TestSelfStartsPausedWhenStopped: an operator's stop outlives a restart of
// serve, so the new process starts with its pool paused.
func TestSelfStartsPausedWhenStopped(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.register(serverNode("srv-1"))
	if _, err := f.reg.SetSettingState(ctx, "srv-1", connecthub.NodeInactive); err != nil {
		t.Fatal(err)
	}
	p := &pool{}
	s := newSelf(t, f, "srv-1", p, nil)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p.Calls(); len(got) != 1 || got[0] != "pause" {
		t.Fatalf("pool calls after Start: %v, want [pause]", got)
	}
}

// TestSelfDoesNotFightLocalPause: the registry saying "active" over and over
// must not resume a pool paused by other means (the node's proc API).
func TestSelfDoesNotFightLocalPause(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	p := &pool{}
	s := newSelf(t, f, "srv-1", p, nil)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	idle(t, f)
	before := f.get("srv-1").LastHeartbeat
	for range 3 {
		nextBeat(t, f)
	}
	if after := f.get("srv-1").LastHeartbeat; !after.After(before) {
		t.Fatalf("no keepalives: last heartbeat %v, before %v", after, before)
	}
	if got := p.Calls(); len(got) != 0 {
		t.Fatalf("pool calls while the setting state never changed: %v", got)
	}
}

func TestNewSelfRefusesBadConfig(t *testing.T) {
	t.Parallel()
	f := setup(t)
	bad := serverNode("srv")
	bad.Queues = nil
	tests := []struct {
		name string
		cfg  node.SelfConfig
	}{
		{"no registry", node.SelfConfig{Node: serverNode("srv")}},
		{"no node", node.SelfConfig{Registry: f.reg}},
		{"invalid node", node.SelfConfig{Registry: f.reg, Node: bad}},
		{"heartbeat not under DeadAfter", node.SelfConfig{Registry: f.reg, Node: serverNode("srv"), Heartbeat: 30 * time.Second}},
		{"negative heartbeat", node.SelfConfig{Registry: f.reg, Node: serverNode("srv"), Heartbeat: -time.Second}},
	}
	for _, tt := range tests {
		if _, err := node.NewSelf(tt.cfg); err == nil {
			t.Errorf("%s: NewSelf accepted it", tt.name)
		}
	}
	s, err := node.NewSelf(node.SelfConfig{Registry: f.reg, Node: serverNode("srv")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
}

// TestSelfStopsWithStartContext checks the lifecycle's one meaning of a
// cancelled Start context: keepalives end and the node deregisters, as on
// Stop.
func TestSelfStopsWithStartContext(t *testing.T) {
	t.Parallel()
	f := setup(t)
	s := newSelf(t, f, "srv-1", &pool{}, nil)
	startCtx, cancel := context.WithCancel(context.Background())
	if err := s.Start(startCtx); err != nil {
		t.Fatal(err)
	}
	idle(t, f)
	cancel()
	testenv.Wait(t, s.Stopped(), "Self to stop with its context")
	if _, err := f.st.NodeGet(context.Background(), "srv-1"); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Fatalf("node after its Start context ended: %v, want it deregistered", err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("a stopped Self started again")
	}
}
