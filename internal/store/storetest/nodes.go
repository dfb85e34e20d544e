package storetest

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// testNode returns a registration with every field set, so round trips
// cover them all; it last spoke at heartbeat.
func testNode(name string, heartbeat time.Time) *connecthub.Node {
	return &connecthub.Node{
		Name:     name,
		Kind:     connecthub.NodeKindWorker,
		Version:  "1.2.3",
		Endpoint: "10.0.0.7:9100",
		Queues:   []string{"default", "integrations"},
		Handlers: []connecthub.NodeHandler{
			{Name: "noop"},
			{
				Name:         "sync_oa_to_didi.token",
				Description:  "fetches a token — 取令牌",
				ConfigSchema: json.RawMessage(`{"type": "object", "properties": {"url": {"type": "string"}}}`),
				SecretKeys:   []string{"rest_password"},
			},
		},
		MaxConcurrency: 20,
		MetricsPort:    9100,
		Labels:         map[string]string{"zone": "a", "team": "integrations"},
		SettingState:   connecthub.NodeActive,
		PresentState:   connecthub.NodeActive,
		RegisteredAt:   heartbeat.Add(-time.Hour),
		LastHeartbeat:  heartbeat,
		Running:        3,
	}
}

// upsertNode registers a copy of n and returns n.
func upsertNode(t *testing.T, s store.Store, n *connecthub.Node) *connecthub.Node {
	t.Helper()
	c := *n
	if err := s.NodeUpsert(t.Context(), &c); err != nil {
		t.Fatalf("NodeUpsert(%s): %v", n.Name, err)
	}
	if !reflect.DeepEqual(&c, n) {
		t.Fatalf("NodeUpsert changed its argument:\n got %+v\nwant %+v", c, *n)
	}
	return n
}

// newNode registers testNode(name, heartbeat) with its present state set.
func newNode(t *testing.T, s store.Store, name, presentState string, heartbeat time.Time) *connecthub.Node {
	t.Helper()
	n := testNode(name, heartbeat)
	n.PresentState = presentState
	return upsertNode(t, s, n)
}

func getNode(t *testing.T, s store.Store, name string) *connecthub.Node {
	t.Helper()
	n, err := s.NodeGet(t.Context(), name)
	if err != nil {
		t.Fatalf("NodeGet(%s): %v", name, err)
	}
	return n
}

func nodeNames(nodes []*connecthub.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

// checkNode compares a node as registered with the node read back.
func checkNode(t *testing.T, want, got *connecthub.Node) {
	t.Helper()
	if got == nil {
		t.Fatalf("node %s is nil", want.Name)
	}
	type plain struct {
		Name, Kind, Version, Endpoint, SettingState, PresentState, OwnerToken string
		MaxConcurrency, MetricsPort, Running                                  int
	}
	w := plain{want.Name, want.Kind, want.Version, want.Endpoint, want.SettingState, want.PresentState, want.OwnerToken, want.MaxConcurrency, want.MetricsPort, want.Running}
	g := plain{got.Name, got.Kind, got.Version, got.Endpoint, got.SettingState, got.PresentState, got.OwnerToken, got.MaxConcurrency, got.MetricsPort, got.Running}
	if w != g {
		t.Errorf("node %s:\n got %+v\nwant %+v", want.Name, g, w)
	}
	checkTime(t, "registered_at", want.RegisteredAt, got.RegisteredAt)
	checkTime(t, "last_heartbeat", want.LastHeartbeat, got.LastHeartbeat)
	checkStrings(t, "queues", want.Queues, got.Queues)
	if got.Queues == nil || got.Handlers == nil || got.Labels == nil {
		t.Errorf("node %s has nil queues, handlers or labels: %+v", want.Name, got)
	}
	if len(want.Labels) > 0 || len(got.Labels) > 0 {
		if !reflect.DeepEqual(want.Labels, got.Labels) {
			t.Errorf("labels = %v, want %v", got.Labels, want.Labels)
		}
	}
	if len(got.Handlers) != len(want.Handlers) {
		t.Fatalf("handlers = %+v, want %+v", got.Handlers, want.Handlers)
	}
	for i, wh := range want.Handlers {
		gh := got.Handlers[i]
		if gh.Name != wh.Name || gh.Description != wh.Description {
			t.Errorf("handler %d = %+v, want %+v", i, gh, wh)
		}
		checkJSON(t, "handler "+wh.Name+" config_schema", wh.ConfigSchema, gh.ConfigSchema)
		checkStrings(t, "handler "+wh.Name+" secret_keys", wh.SecretKeys, gh.SecretKeys)
	}
}

func exerciseNodes(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"UpsertRoundTrip": func(t *testing.T, s store.Store) {
			want := testNode("worker-1", t0.In(shanghai))
			upsertNode(t, s, want)
			checkNode(t, want, getNode(t, s, "worker-1"))
		},
		"UpsertOwner": func(t *testing.T, s store.Store) {
			// The registering token is kept, and replaced by the next
			// registration, also by an empty one (an admin's).
			n := testNode("owned-1", t0)
			n.OwnerToken = "tok_first"
			upsertNode(t, s, n)
			checkNode(t, n, getNode(t, s, "owned-1"))
			for _, owner := range []string{"tok_second", ""} {
				again := testNode("owned-1", t0.Add(time.Second))
				again.OwnerToken = owner
				upsertNode(t, s, again)
				if got := getNode(t, s, "owned-1").OwnerToken; got != owner {
					t.Errorf("owner after re-registration = %q, want %q", got, owner)
				}
			}
		},
		"UpsertDefaults": func(t *testing.T, s store.Store) {
			n := &connecthub.Node{Name: "bare", RegisteredAt: t0, LastHeartbeat: t0}
			upsertNode(t, s, n)
			got := getNode(t, s, "bare")
			if got.SettingState != connecthub.NodeActive || got.PresentState != connecthub.NodeActivating {
				t.Errorf("states = %s/%s, want active/activating", got.SettingState, got.PresentState)
			}
			if got.Queues == nil || len(got.Queues) != 0 || got.Handlers == nil || len(got.Handlers) != 0 ||
				got.Labels == nil || len(got.Labels) != 0 {
				t.Errorf("a node without lists reads back %+v, want empty (not nil) lists and labels", got)
			}
		},
		"UpsertRefreshKeepsRegistrationAndOperatorState": func(t *testing.T, s store.Store) {
			first := testNode("w", t0)
			upsertNode(t, s, first)
			if _, err := s.NodeSetState(t.Context(), "w", connecthub.NodeInactive); err != nil {
				t.Fatal(err)
			}
			// The node restarts: a new version, queues and handlers, a new
			// registration time, and (as a fresh process) setting "active".
			again := &connecthub.Node{
				Name: "w", Kind: connecthub.NodeKindServer, Version: "2.0.0", Endpoint: "10.0.0.8:9200",
				Queues: []string{"other"}, Handlers: []connecthub.NodeHandler{{Name: "sleep"}},
				MaxConcurrency: 5, MetricsPort: 9200, Labels: map[string]string{"zone": "b"},
				SettingState: connecthub.NodeActive, PresentState: connecthub.NodeActivating,
				RegisteredAt: t0.Add(time.Hour), LastHeartbeat: t0.Add(time.Hour), Running: 0,
			}
			upsertNode(t, s, again)
			want := *again
			want.RegisteredAt = first.RegisteredAt
			want.SettingState = connecthub.NodeInactive
			checkNode(t, &want, getNode(t, s, "w"))
		},
		"UpsertInvalid": func(t *testing.T, s store.Store) {
			requireKind(t, s.NodeUpsert(t.Context(), nil), connecthub.KindInvalid)
			for name, mutate := range map[string]func(*connecthub.Node){
				"no name":              func(n *connecthub.Node) { n.Name = "" },
				"no registered_at":     func(n *connecthub.Node) { n.RegisteredAt = time.Time{} },
				"no last_heartbeat":    func(n *connecthub.Node) { n.LastHeartbeat = time.Time{} },
				"setting state":        func(n *connecthub.Node) { n.SettingState = connecthub.NodeDeactivating },
				"present state":        func(n *connecthub.Node) { n.PresentState = "sleeping" },
				"negative running":     func(n *connecthub.Node) { n.Running = -1 },
				"negative concurrency": func(n *connecthub.Node) { n.MaxConcurrency = -1 },
				"bad schema":           func(n *connecthub.Node) { n.Handlers[1].ConfigSchema = json.RawMessage(`{"type":`) },
			} {
				n := testNode("bad", t0)
				mutate(n)
				if err := s.NodeUpsert(t.Context(), n); !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("%s: NodeUpsert = %v, want an invalid error", name, err)
				}
			}
			if nodes, err := s.NodeList(t.Context()); err != nil || len(nodes) != 0 {
				t.Errorf("NodeList after invalid upserts = %v, %v; want none", nodeNames(nodes), err)
			}
		},
		"Keepalive": func(t *testing.T, s store.Store) {
			reg := newNode(t, s, "w", connecthub.NodeActivating, t0)
			now := t0.Add(5 * time.Second).In(shanghai)
			got, err := s.NodeKeepalive(t.Context(), store.NodeKeepaliveParams{Name: "w", PresentState: connecthub.NodeActive, Running: 7, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			want := *reg
			want.PresentState, want.Running, want.LastHeartbeat = connecthub.NodeActive, 7, now
			checkNode(t, &want, got)
			checkNode(t, &want, getNode(t, s, "w"))
			// No state: the present state stays as it is.
			later := now.Add(5 * time.Second)
			got, err = s.NodeKeepalive(t.Context(), store.NodeKeepaliveParams{Name: "w", Running: 0, Now: later})
			if err != nil {
				t.Fatal(err)
			}
			want.Running, want.LastHeartbeat = 0, later
			checkNode(t, &want, got)
		},
		"KeepaliveUnknown": func(t *testing.T, s store.Store) {
			_, err := s.NodeKeepalive(t.Context(), store.NodeKeepaliveParams{Name: "ghost", Now: t0})
			requireKind(t, err, connecthub.KindNotFound)
			newNode(t, s, "gone", connecthub.NodeActive, t0)
			if err := s.NodeDelete(t.Context(), "gone"); err != nil {
				t.Fatal(err)
			}
			_, err = s.NodeKeepalive(t.Context(), store.NodeKeepaliveParams{Name: "gone", Now: t0})
			requireKind(t, err, connecthub.KindNotFound)
		},
		"KeepaliveInvalid": func(t *testing.T, s store.Store) {
			newNode(t, s, "w", connecthub.NodeActive, t0)
			good := store.NodeKeepaliveParams{Name: "w", PresentState: connecthub.NodeActive, Running: 1, Now: t0}
			for name, mutate := range map[string]func(*store.NodeKeepaliveParams){
				"no name":  func(p *store.NodeKeepaliveParams) { p.Name = "" },
				"no now":   func(p *store.NodeKeepaliveParams) { p.Now = time.Time{} },
				"state":    func(p *store.NodeKeepaliveParams) { p.PresentState = "sleeping" },
				"negative": func(p *store.NodeKeepaliveParams) { p.Running = -1 },
			} {
				p := good
				mutate(&p)
				if _, err := s.NodeKeepalive(t.Context(), p); !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("%s: NodeKeepalive = %v, want an invalid error", name, err)
				}
			}
			if _, err := s.NodeKeepalive(t.Context(), good); err != nil {
				t.Errorf("good params: %v", err)
			}
		},
		"KeepaliveRevivesADeadNode": func(t *testing.T, s store.Store) {
			newNode(t, s, "w", connecthub.NodeActive, t0.Add(-time.Hour))
			if dead, _, err := s.NodeMarkDead(t.Context(), t0, t0); err != nil || len(dead) != 1 {
				t.Fatalf("NodeMarkDead = %v, %v", nodeNames(dead), err)
			}
			got, err := s.NodeKeepalive(t.Context(), store.NodeKeepaliveParams{Name: "w", Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if got.PresentState != connecthub.NodeActive {
				t.Errorf("a dead node that speaks without a state is %s, want active", got.PresentState)
			}
			// It counts as active, and going silent again it is declared
			// dead again.
			if st, err := s.Stats(t.Context(), t0); err != nil || st.ActiveNodes != 1 {
				t.Errorf("active nodes = %v, %v; want 1", st, err)
			}
			if dead, _, err := s.NodeMarkDead(t.Context(), t0.Add(time.Minute), t0.Add(time.Minute)); err != nil || len(dead) != 1 {
				t.Errorf("second NodeMarkDead = %v, %v; want the node again", nodeNames(dead), err)
			}
			// A state given explicitly wins.
			got, err = s.NodeKeepalive(t.Context(), store.NodeKeepaliveParams{Name: "w", PresentState: connecthub.NodeDeactivating, Now: t0})
			if err != nil || got.PresentState != connecthub.NodeDeactivating {
				t.Errorf("keepalive with a state = %+v, %v; want deactivating", got, err)
			}
		},
		"GetNotFound": func(t *testing.T, s store.Store) {
			_, err := s.NodeGet(t.Context(), "ghost")
			requireKind(t, err, connecthub.KindNotFound)
		},
		"ListByName": func(t *testing.T, s store.Store) {
			if nodes, err := s.NodeList(t.Context()); err != nil || len(nodes) != 0 {
				t.Fatalf("NodeList of an empty store = %v, %v", nodeNames(nodes), err)
			}
			names := []string{"node-b", "Node-a", "node-a", "node-10", "node-9", "节点"}
			for _, name := range names {
				newNode(t, s, name, connecthub.NodeActive, t0)
			}
			nodes, err := s.NodeList(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(names)
			slices.Sort(want) // bytewise
			checkStrings(t, "nodes", want, nodeNames(nodes))
			checkNode(t, testNode("node-a", t0), nodes[slices.Index(want, "node-a")])
		},
		"SetState": func(t *testing.T, s store.Store) {
			reg := newNode(t, s, "w", connecthub.NodeActive, t0)
			for _, state := range []string{connecthub.NodeInactive, connecthub.NodeInactive, connecthub.NodeActive} {
				got, err := s.NodeSetState(t.Context(), "w", state)
				if err != nil {
					t.Fatal(err)
				}
				want := *reg
				want.SettingState = state
				checkNode(t, &want, got)
				checkNode(t, &want, getNode(t, s, "w"))
			}
			_, err := s.NodeSetState(t.Context(), "ghost", connecthub.NodeInactive)
			requireKind(t, err, connecthub.KindNotFound)
			for _, bad := range []string{"", connecthub.NodeActivating, connecthub.NodeDeactivating, "stopped"} {
				_, err := s.NodeSetState(t.Context(), "w", bad)
				requireKind(t, err, connecthub.KindInvalid)
			}
		},
		"Delete": func(t *testing.T, s store.Store) {
			newNode(t, s, "w", connecthub.NodeDeactivating, t0)
			newNode(t, s, "other", connecthub.NodeActive, t0)
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, "w", t0)
			if err := s.NodeDelete(t.Context(), "w"); err != nil {
				t.Fatal(err)
			}
			_, err := s.NodeGet(t.Context(), "w")
			requireKind(t, err, connecthub.KindNotFound)
			requireKind(t, s.NodeDelete(t.Context(), "w"), connecthub.KindNotFound)
			getNode(t, s, "other")
			// Its runs are left to their leases.
			got := checkStatus(t, s, r.ID, connecthub.StatusRunning)
			if got.Node != "w" {
				t.Errorf("run node = %s, want w", got.Node)
			}
		},
		"Clean": func(t *testing.T, s store.Store) {
			cutoff := t0.Add(-24 * time.Hour)
			newNode(t, s, "inactive-old", connecthub.NodeInactive, cutoff.Add(-time.Microsecond))
			newNode(t, s, "inactive-older", connecthub.NodeInactive, cutoff.Add(-time.Hour))
			newNode(t, s, "inactive-at-cutoff", connecthub.NodeInactive, cutoff)
			newNode(t, s, "inactive-recent", connecthub.NodeInactive, t0)
			newNode(t, s, "active-old", connecthub.NodeActive, cutoff.Add(-time.Hour))
			newNode(t, s, "activating-old", connecthub.NodeActivating, cutoff.Add(-time.Hour))
			newNode(t, s, "deactivating-old", connecthub.NodeDeactivating, cutoff.Add(-time.Hour))
			n, err := s.NodeClean(t.Context(), cutoff.In(shanghai))
			if err != nil || n != 2 {
				t.Fatalf("NodeClean = %d, %v; want 2", n, err)
			}
			nodes, err := s.NodeList(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "nodes left", []string{"activating-old", "active-old", "deactivating-old", "inactive-at-cutoff", "inactive-recent"}, nodeNames(nodes))
			if n, err := s.NodeClean(t.Context(), cutoff); err != nil || n != 0 {
				t.Errorf("second NodeClean = %d, %v; want 0", n, err)
			}
			_, err = s.NodeClean(t.Context(), time.Time{})
			requireKind(t, err, connecthub.KindInvalid)
		},
		"ActiveNodesInStats": func(t *testing.T, s store.Store) {
			newNode(t, s, "active", connecthub.NodeActive, t0)
			newNode(t, s, "activating", connecthub.NodeActivating, t0)
			newNode(t, s, "deactivating", connecthub.NodeDeactivating, t0)
			newNode(t, s, "inactive", connecthub.NodeInactive, t0)
			stopped := testNode("stopped-by-operator", t0) // still alive and present
			stopped.SettingState = connecthub.NodeInactive
			upsertNode(t, s, stopped)
			st, err := s.Stats(t.Context(), t0)
			if err != nil {
				t.Fatal(err)
			}
			if st.ActiveNodes != 3 {
				t.Errorf("active nodes = %d, want 3 (active, activating, and the stopped one that is still active)", st.ActiveNodes)
			}
		},
	})
}

func exerciseNodeMarkDead(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"MarksOnlySilentNodes": func(t *testing.T, s store.Store) {
			deadBefore := t0.Add(-30 * time.Second)
			newNode(t, s, "silent-active", connecthub.NodeActive, deadBefore.Add(-time.Second))
			newNode(t, s, "silent-activating", connecthub.NodeActivating, deadBefore.Add(-time.Hour))
			newNode(t, s, "silent-deactivating", connecthub.NodeDeactivating, deadBefore.Add(-time.Microsecond))
			newNode(t, s, "already-inactive", connecthub.NodeInactive, deadBefore.Add(-time.Hour))
			newNode(t, s, "at-the-limit", connecthub.NodeActive, deadBefore)
			newNode(t, s, "alive", connecthub.NodeActive, t0)
			dead, rescued, err := s.NodeMarkDead(t.Context(), deadBefore.In(shanghai), t0)
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "marked", []string{"silent-activating", "silent-active", "silent-deactivating"}, nodeNames(dead))
			if len(rescued) != 0 {
				t.Errorf("rescued %v from nodes without runs", ids(rescued))
			}
			for _, n := range dead {
				if n.PresentState != connecthub.NodeInactive {
					t.Errorf("marked node %s is returned %s, want inactive", n.Name, n.PresentState)
				}
				got := getNode(t, s, n.Name)
				if got.PresentState != connecthub.NodeInactive {
					t.Errorf("marked node %s is %s, want inactive", n.Name, got.PresentState)
				}
				checkTime(t, n.Name+" last_heartbeat", n.LastHeartbeat, got.LastHeartbeat)
			}
			for name, state := range map[string]string{"already-inactive": connecthub.NodeInactive, "at-the-limit": connecthub.NodeActive, "alive": connecthub.NodeActive} {
				if got := getNode(t, s, name); got.PresentState != state {
					t.Errorf("node %s is %s, want %s", name, got.PresentState, state)
				}
			}
			// Idempotent: nothing is marked twice.
			if dead, rescued, err := s.NodeMarkDead(t.Context(), deadBefore, t0); err != nil || len(dead) != 0 || len(rescued) != 0 {
				t.Errorf("second NodeMarkDead = %v, %v, %v; want nothing", nodeNames(dead), ids(rescued), err)
			}
		},
		"RescuesTheDeadNodesRunsAtOnce": func(t *testing.T, s store.Store) {
			deadBefore := t0.Add(-30 * time.Second)
			newNode(t, s, "dead", connecthub.NodeActive, deadBefore.Add(-time.Second))
			newNode(t, s, "alive", connecthub.NodeActive, t0)
			newNode(t, s, "long-dead", connecthub.NodeInactive, deadBefore.Add(-time.Hour))
			retrying := newJob(t, s, "retrying", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			once := newJob(t, s, "once", func(j *connecthub.Job) { j.MaxAttempts = 1 })

			// The dead node's runs hold live leases: the claim was just now.
			claimed := t0.Add(-time.Second)
			requeue := runningRun(t, s, retrying, "dead", claimed)
			fail := runningRun(t, s, once, "dead", claimed)
			cancel := runningRun(t, s, retrying, "dead", claimed)
			if _, err := s.RunCancel(t.Context(), cancel.ID, claimed); err != nil {
				t.Fatal(err)
			}
			finished := runningRun(t, s, retrying, "dead", claimed)
			complete(t, s, store.RunOutcome{ID: finished.ID, Node: "dead", Status: connecthub.StatusSuccess, Now: claimed})
			queued := queuedRun(t, s, retrying, claimed)
			// Other nodes' runs are not the dead node's business, even a
			// node declared dead before (its runs wait for their leases).
			aliveRun := runningRun(t, s, retrying, "alive", claimed)
			longDeadRun := runningRun(t, s, retrying, "long-dead", claimed)

			runs := subscribe(t, s, store.TopicRuns)
			now := t0
			dead, rescued, err := s.NodeMarkDead(t.Context(), deadBefore, now)
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "marked", []string{"dead"}, nodeNames(dead))
			gotIDs := ids(rescued)
			slices.Sort(gotIDs)
			wantIDs := []string{requeue.ID, fail.ID, cancel.ID}
			slices.Sort(wantIDs)
			checkStrings(t, "rescued", wantIDs, gotIDs)
			waitNotified(t, runs, "NodeMarkDead re-queued a run")

			byID := map[string]*connecthub.Run{}
			for _, r := range rescued {
				byID[r.ID] = r
			}
			for _, got := range []*connecthub.Run{byID[requeue.ID], getRun(t, s, requeue.ID)} {
				if got.Status != connecthub.StatusQueued || got.Attempt != 2 || got.Node != "" || got.LeaseExpiresAt != nil {
					t.Errorf("re-queued run is %s attempt %d node %q lease %v, want QUEUED attempt 2 on no node",
						got.Status, got.Attempt, got.Node, got.LeaseExpiresAt)
				}
				checkTime(t, "available_at", now, got.AvailableAt)
				if len(got.Attempts) != 1 || got.Attempts[0].Error != connecthub.ReasonWorkerLost ||
					got.Attempts[0].Attempt != 1 || got.Attempts[0].Node != "dead" || got.Attempts[0].Status != connecthub.StatusFailure {
					t.Errorf("attempts = %+v, want one %q entry for attempt 1 on dead", got.Attempts, connecthub.ReasonWorkerLost)
				}
			}
			for _, got := range []*connecthub.Run{byID[fail.ID], getRun(t, s, fail.ID)} {
				if got.Status != connecthub.StatusFailure || got.Error != connecthub.ReasonWorkerLost {
					t.Errorf("run without attempts left is %s %q, want FAILURE %q", got.Status, got.Error, connecthub.ReasonWorkerLost)
				}
				checkTimePtr(t, "finished_at", ptr(now), got.FinishedAt)
			}
			for _, got := range []*connecthub.Run{byID[cancel.ID], getRun(t, s, cancel.ID)} {
				if got.Status != connecthub.StatusCanceled {
					t.Errorf("run whose cancel was requested is %s, want CANCELED", got.Status)
				}
				checkTimePtr(t, "finished_at", ptr(now), got.FinishedAt)
			}
			checkStatus(t, s, finished.ID, connecthub.StatusSuccess)
			checkStatus(t, s, queued.ID, connecthub.StatusQueued)
			for _, r := range []*connecthub.Run{aliveRun, longDeadRun} {
				got := checkStatus(t, s, r.ID, connecthub.StatusRunning)
				checkTimePtr(t, "untouched lease", r.LeaseExpiresAt, got.LeaseExpiresAt)
			}

			// The dead node's late words change nothing.
			if applied := complete(t, s, store.RunOutcome{ID: requeue.ID, Node: "dead", Status: connecthub.StatusSuccess, Now: now}); applied[0] {
				t.Error("an outcome from the dead node was applied to its rescued run")
			}
			res, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: "dead", IDs: []string{requeue.ID}, LeaseTTL: ttl, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "lost", []string{requeue.ID}, res.Lost)
			// And the re-queued run is claimable at once.
			again := claim(t, s, store.RunClaimParams{Node: "alive", Queues: []string{requeue.Queue}, Now: now})
			if len(again) != 1 || again[0].Attempt != 2 {
				t.Fatalf("claim after the rescue = %+v", again)
			}
		},
		"ManyDeadNodes": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 2 })
			var want []string
			for i := range 20 {
				name := "dead-" + string(rune('a'+i))
				newNode(t, s, name, connecthub.NodeActive, t0.Add(-time.Hour))
				for range 3 {
					want = append(want, runningRun(t, s, j, name, t0).ID)
				}
			}
			dead, rescued, err := s.NodeMarkDead(t.Context(), t0.Add(-time.Minute), t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(dead) != 20 {
				t.Errorf("marked %d nodes, want 20", len(dead))
			}
			got := ids(rescued)
			slices.Sort(got)
			slices.Sort(want)
			checkStrings(t, "rescued", want, got)
		},
		"BadParams": func(t *testing.T, s store.Store) {
			_, _, err := s.NodeMarkDead(t.Context(), time.Time{}, t0)
			requireKind(t, err, connecthub.KindInvalid)
			_, _, err = s.NodeMarkDead(t.Context(), t0, time.Time{})
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}
