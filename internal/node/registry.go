// Package node is the registry of the processes that execute runs, the
// nodes: the worker pool inside each `connecthub serve`, every `connecthub
// worker`, and workers in other languages. It validates registrations,
// records keepalives, lets operators stop and start nodes and clean old
// entries, and publishes the nodes' metrics endpoints for Prometheus service
// discovery. Declaring silent nodes dead and rescuing their runs is the
// NodeReaper's, in internal/maintenance.
//
// The registry keeps no state of its own: everything is in the store, so
// every server replica sees the same nodes and any replica can answer any
// node (nothing depends on sticky sessions).
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/store"
)

// Defaults of Config.
const (
	// DefaultDeadAfter is CONNECTHUB_NODE_DEAD_AFTER's default.
	DefaultDeadAfter = 30 * time.Second
	// DefaultCleanAfter is how old an inactive node must be for Clean when
	// no age is given (the default of `connecthub nodes clean --older-than`).
	DefaultCleanAfter = 24 * time.Hour
)

// Config configures a Registry. Zero values take the documented defaults.
type Config struct {
	// Store keeps the nodes. Required.
	Store store.NodeStore
	// DeadAfter is how long a node may stay silent before it is declared
	// dead (CONNECTHUB_NODE_DEAD_AFTER). Default 30s. The registry checks
	// that a node's own heartbeat is shorter; maintenance's NodeReaper
	// takes it from DeadAfter() and declares the silent nodes dead.
	DeadAfter time.Duration
	// Clock is the clock of registrations, keepalives and cleaning.
	// Default clock.Real().
	Clock clock.Clock
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
	if c.Clock == nil {
		c.Clock = clock.Real()
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
}

// New returns a Registry.
func New(cfg Config) (*Registry, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, st: cfg.Store, log: cfg.Logger}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(newCollector(cfg.Store)); err != nil {
			return nil, fmt.Errorf("node: register metrics: %w", err)
		}
	}
	return r, nil
}

// DeadAfter returns the silence after which a node is declared dead.
func (r *Registry) DeadAfter() time.Duration { return r.cfg.DeadAfter }

func (r *Registry) now() time.Time { return r.cfg.Clock.Now().UTC() }

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
	n.FillEmpty()
	n.RegisteredAt = n.RegisteredAt.UTC()
	n.LastHeartbeat = n.LastHeartbeat.UTC()
	return n
}
