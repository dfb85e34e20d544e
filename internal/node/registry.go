// Package node is the registry of the processes that execute runs, the
// nodes: the worker pool inside each `connecthub serve`, every `connecthub
// worker`, and workers in other languages. It validates registrations,
// records keepalives, declares silent nodes dead and rescues their runs at
// once, lets operators stop and start nodes and clean old entries, and
// publishes the nodes' metrics endpoints for Prometheus service discovery.
//
// The registry keeps no state of its own: everything is in the store, so
// every server replica sees the same nodes and any replica can answer any
// node (nothing depends on sticky sessions). Each replica runs the reaper;
// marking a node dead is one idempotent transaction, so they do not
// conflict.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Defaults of Config.
const (
	// DefaultDeadAfter is CONNECTHUB_NODE_DEAD_AFTER's default.
	DefaultDeadAfter = 30 * time.Second
	// DefaultCleanAfter is how old an inactive node must be for Clean when
	// no age is given (the default of `connecthub nodes clean --older-than`).
	DefaultCleanAfter = 24 * time.Hour
	// maxInterval caps the reaper's default period, so that a long
	// DeadAfter does not also make detection late by a long period.
	maxInterval = 5 * time.Second
)

// Config configures a Registry. Zero values take the documented defaults.
type Config struct {
	// Store keeps the nodes. Required.
	Store store.NodeStore
	// DeadAfter is how long a node may stay silent before it is declared
	// dead (CONNECTHUB_NODE_DEAD_AFTER). Default 30s.
	DeadAfter time.Duration
	// Interval is how often the reaper looks for dead nodes. Default
	// min(DeadAfter/3, 5s): a dead node is noticed within DeadAfter plus
	// one Interval.
	Interval time.Duration
	// Now is the clock of registrations, keepalives and dead detection.
	// Default time.Now. The reaper's period uses real time.
	Now func() time.Time
	// Logger receives dead nodes and rescued runs. Default: discard.
	Logger *slog.Logger
	// Metrics, when not nil, receives the connecthub_nodes{state} gauge.
	Metrics prometheus.Registerer
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.DeadAfter == 0 {
		c.DeadAfter = DefaultDeadAfter
	}
	if c.Interval == 0 {
		c.Interval = min(c.DeadAfter/3, maxInterval)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if c.DeadAfter < 0 {
		errs = append(errs, fmt.Errorf("DeadAfter must be > 0, got %s", c.DeadAfter))
	}
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("Interval must be > 0, got %s", c.Interval))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	return nil
}

// Registry is the node registry. Its methods are safe for concurrent use.
type Registry struct {
	cfg Config
	st  store.NodeStore
	log *slog.Logger

	mu      sync.Mutex
	started bool
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
}

// New returns a Registry; call Start to run its reaper.
func New(cfg Config) (*Registry, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, st: cfg.Store, log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(newCollector(cfg.Store)); err != nil {
			return nil, fmt.Errorf("node: register metrics: %w", err)
		}
	}
	return r, nil
}

// DeadAfter returns the silence after which a node is declared dead.
func (r *Registry) DeadAfter() time.Duration { return r.cfg.DeadAfter }

func (r *Registry) now() time.Time { return r.cfg.Now().UTC() }

// Register records a node starting up: it validates the registration,
// sets present_state "activating" and the registration and heartbeat
// times, and inserts the node or refreshes the one of the same name (a
// restart). An operator's stop (setting_state "inactive") survives the
// restart: a node stopped for maintenance must not start claiming because
// its process was restarted. in is not modified.
func (r *Registry) Register(ctx context.Context, in *connecthub.Node) (*connecthub.Node, error) {
	if in == nil {
		return nil, connecthub.Errorf(connecthub.KindInvalid, "a node registration is required")
	}
	n := clone(in)
	if err := validate(n); err != nil {
		return nil, err
	}
	now := r.now()
	n.PresentState = connecthub.NodeActivating
	// A new node starts active; the store keeps the setting state of a
	// node that registers again, in the same statement, so no operator's
	// stop can slip between a read and the write.
	n.SettingState = connecthub.NodeActive
	n.RegisteredAt = now
	n.LastHeartbeat = now
	if err := r.st.NodeUpsert(ctx, n); err != nil {
		return nil, err
	}
	// Read it back: the store keeps the first registration time and the
	// setting state of a node that registers again, and that is what the
	// caller must see.
	stored, err := r.st.NodeGet(ctx, n.Name)
	if err != nil {
		return nil, err
	}
	r.log.InfoContext(ctx, "node registered", "node", n.Name, "kind", n.Kind, "version", n.Version,
		"endpoint", n.Endpoint, "queues", n.Queues, "handlers", len(n.Handlers), "setting_state", stored.SettingState)
	return normalize(stored), nil
}

// Keepalive records a node's heartbeat with its present state ("" leaves
// it unchanged) and the number of runs it holds, and returns the node, whose
// SettingState tells the node whether an operator stopped it. A node the
// registry does not know (cleaned, or never registered) gets a KindNotFound
// error with code "not_registered": it must register again.
//
// A node declared dead that speaks again is alive: its keepalive refreshes
// it. Its runs were rescued meanwhile; the heartbeats of those runs tell it
// so, and it drops them.
func (r *Registry) Keepalive(ctx context.Context, name, presentState string, running int) (*connecthub.Node, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	switch presentState {
	case "", connecthub.NodeActivating, connecthub.NodeActive, connecthub.NodeDeactivating:
	case connecthub.NodeInactive:
		return nil, connecthub.FieldError("state", "", "state %q is set by the server for silent nodes; report %s, %s or %s",
			presentState, connecthub.NodeActivating, connecthub.NodeActive, connecthub.NodeDeactivating)
	default:
		return nil, connecthub.FieldError("state", "", "state must be %s, %s or %s (got %q)",
			connecthub.NodeActivating, connecthub.NodeActive, connecthub.NodeDeactivating, truncate(presentState, 32))
	}
	if running < 0 {
		return nil, connecthub.FieldError("running", "", "running must not be negative")
	}
	n, err := r.st.NodeKeepalive(ctx, store.NodeKeepaliveParams{Name: name, PresentState: presentState, Running: running, Now: r.now()})
	if connecthub.IsKind(err, connecthub.KindNotFound) {
		return nil, notRegistered(name)
	}
	if err != nil {
		return nil, err
	}
	return normalize(n), nil
}

// notRegistered is the answer to a node the registry does not know. Its
// code is part of the worker protocol: a worker that gets it registers
// again.
func notRegistered(name string) error {
	return &connecthub.Error{Kind: connecthub.KindNotFound, Code: "not_registered",
		Message: fmt.Sprintf("node %q is not registered (it was cleaned or never registered): register again", name)}
}

// Prestop records a node's graceful stop: present_state "deactivating",
// then its removal. It is idempotent: the prestop of a node that is
// already gone succeeds, so a worker whose first prestop answer was lost
// can retry it.
func (r *Registry) Prestop(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	_, err := r.st.NodeKeepalive(ctx, store.NodeKeepaliveParams{Name: name, PresentState: connecthub.NodeDeactivating, Now: r.now()})
	if connecthub.IsKind(err, connecthub.KindNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := r.st.NodeDelete(ctx, name); err != nil && !connecthub.IsKind(err, connecthub.KindNotFound) {
		return err
	}
	r.log.InfoContext(ctx, "node deregistered", "node", name)
	return nil
}

// Get returns one node; KindNotFound if none.
func (r *Registry) Get(ctx context.Context, name string) (*connecthub.Node, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	n, err := r.st.NodeGet(ctx, name)
	if err != nil {
		return nil, err
	}
	return normalize(n), nil
}

// List returns every registered node, ordered by name.
func (r *Registry) List(ctx context.Context) ([]*connecthub.Node, error) {
	nodes, err := r.st.NodeList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*connecthub.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, normalize(n))
	}
	slices.SortFunc(out, func(a, b *connecthub.Node) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Clean deletes the inactive nodes that have been silent for longer than
// olderThan (0 = DefaultCleanAfter) and returns how many. Live nodes are
// never cleaned, however old their registration.
func (r *Registry) Clean(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan < 0 {
		return 0, connecthub.FieldError("older_than", "", "older_than must not be negative")
	}
	if olderThan == 0 {
		olderThan = DefaultCleanAfter
	}
	n, err := r.st.NodeClean(ctx, r.now().Add(-olderThan))
	if err != nil {
		return 0, err
	}
	if n > 0 {
		r.log.InfoContext(ctx, "cleaned inactive nodes", "deleted", n, "older_than", olderThan.String())
	}
	return n, nil
}

// SetSettingState records an operator's stop ("inactive") or start
// ("active") of a node. The node applies it at its next keepalive: a
// stopped node finishes its runs in flight and claims nothing new.
func (r *Registry) SetSettingState(ctx context.Context, name, state string) (*connecthub.Node, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if state != connecthub.NodeActive && state != connecthub.NodeInactive {
		return nil, connecthub.FieldError("setting_state", "", "setting_state must be %s or %s (got %q)", connecthub.NodeActive, connecthub.NodeInactive, truncate(state, 32))
	}
	n, err := r.st.NodeSetState(ctx, name, state)
	if err != nil {
		return nil, err
	}
	r.log.InfoContext(ctx, "node setting state changed", "node", name, "setting_state", state)
	return normalize(n), nil
}

// Reap runs one pass of dead detection now: every node silent for longer
// than DeadAfter becomes inactive, and its RUNNING runs are rescued at once
// (re-queued, or FAILURE "worker lost" without attempts left) instead of
// waiting for their leases to expire. The reaper calls it every Interval.
func (r *Registry) Reap(ctx context.Context) ([]*connecthub.Node, []*connecthub.Run, error) {
	now := r.now()
	dead, rescued, err := r.st.NodeMarkDead(ctx, now.Add(-r.cfg.DeadAfter), now)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range dead {
		r.log.WarnContext(ctx, "node declared dead: no keepalive", "node", n.Name, "kind", n.Kind,
			"last_heartbeat", n.LastHeartbeat.Format(time.RFC3339Nano), "dead_after", r.cfg.DeadAfter.String())
	}
	for _, run := range rescued {
		r.log.WarnContext(ctx, "run rescued from a dead node", "run", run.ID, "job", run.JobID,
			"status", run.Status, "attempt", run.Attempt)
	}
	return dead, rescued, nil
}

// Start runs the reaper until Stop or until ctx ends. Starting twice is an
// error.
func (r *Registry) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("node: registry already started")
	}
	r.started = true
	go r.loop(ctx)
	return nil
}

// Stop ends the reaper and waits for a pass in progress, or until ctx
// ends. It is safe to call twice, and before Start.
func (r *Registry) Stop(ctx context.Context) error {
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	r.stopped.Do(func() { close(r.stop) })
	if !started {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("node: stop reaper: %w", ctx.Err())
	}
}

func (r *Registry) loop(ctx context.Context) {
	defer close(r.done)
	ticker := time.NewTicker(r.cfg.Interval)
	defer ticker.Stop()
	failing := false
	for {
		select {
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		// A pass must not outlive the period by much, or passes would pile
		// up behind a slow database.
		passCtx, cancel := context.WithTimeout(ctx, max(r.cfg.Interval, 5*time.Second))
		_, _, err := r.Reap(passCtx)
		cancel()
		switch {
		case err != nil && !failing:
			// Once per failing streak: a database outage must not flood the
			// log every few seconds.
			r.log.ErrorContext(ctx, "dead node detection failed; retrying", "err", err, "every", r.cfg.Interval.String())
			failing = true
		case err != nil:
			r.log.DebugContext(ctx, "dead node detection still failing", "err", err)
		case failing:
			r.log.InfoContext(ctx, "dead node detection works again")
			failing = false
		}
	}
}

// clone copies a registration deeply enough that normalising and storing it
// never changes the caller's slices and maps.
func clone(in *connecthub.Node) *connecthub.Node {
	n := *in
	n.Queues = slices.Clone(in.Queues)
	n.Handlers = slices.Clone(in.Handlers)
	for i := range n.Handlers {
		n.Handlers[i].SecretKeys = slices.Clone(n.Handlers[i].SecretKeys)
		n.Handlers[i].ConfigSchema = slices.Clone(n.Handlers[i].ConfigSchema)
	}
	if in.Labels != nil {
		n.Labels = make(map[string]string, len(in.Labels))
		for k, v := range in.Labels {
			n.Labels[k] = v
		}
	}
	return &n
}

// normalize makes a node's lists and maps non-nil, so the API always
// answers [] and {} rather than null, and times UTC.
func normalize(n *connecthub.Node) *connecthub.Node {
	if n.Queues == nil {
		n.Queues = []string{}
	}
	if n.Handlers == nil {
		n.Handlers = []connecthub.NodeHandler{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.RegisteredAt = n.RegisteredAt.UTC()
	n.LastHeartbeat = n.LastHeartbeat.UTC()
	return n
}
