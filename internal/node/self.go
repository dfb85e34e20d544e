package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/startstop"
)

// Pauser is what Self needs of a worker pool to apply an operator's stop
// and start; *worker.Worker implements it. Pause stops claiming (runs in
// flight go on), Resume claims again. Both must be idempotent.
type Pauser interface {
	Pause()
	Resume()
}

// SelfConfig configures a Self.
type SelfConfig struct {
	// Registry records the node. Required.
	Registry *Registry
	// Node is the registration: name, kind, version, endpoint, queues,
	// handlers, max concurrency, metrics port, labels. Required; the states
	// and times are the registry's to set.
	Node *connecthub.Node
	// Heartbeat is how often the node sends a keepalive
	// (CONNECTHUB_HEARTBEAT). It must be well under the registry's
	// DeadAfter. Default 5s.
	Heartbeat time.Duration
	// Running reports how many runs the node holds; nil reports 0.
	Running func() int
	// Pool, when not nil, is paused when an operator stops the node and
	// resumed when they start it again.
	Pool Pauser
	// Logger receives registration problems. Default: discard.
	Logger *slog.Logger
	// Clock times the keepalives. Default clock.Real(). The times the
	// registry records are the Registry's clock's.
	Clock clock.Clock
}

// Self keeps the registration of a node that lives in this process (the
// worker pool of `connecthub serve`) alive: it registers on Start, sends a
// keepalive every Heartbeat with the pool's running count, registers again
// if its entry was cleaned, applies the operator's stop and start that it
// reads back from each keepalive, and deregisters (prestop) on Stop.
//
// It applies changes of the setting state, not the state itself: a pool
// that was paused by other means (the node's own proc API) is not resumed
// behind the caller's back just because the registry says "active".
//
// Its lifecycle is startstop's: cancelling Start's context stops it as Stop
// does (keepalives end and the node deregisters), and a stopped Self does
// not start again. Between keepalives it waits on a timer of its Clock, so
// with a fake clock a pending timer means "idle after a keepalive".
type Self struct {
	startstop.Base
	cfg  SelfConfig
	reg  *Registry
	log  *slog.Logger
	name string

	mu      sync.Mutex
	state   string // the present state the next keepalive reports
	setting string // the last setting state applied; "" before the first
	started bool

	beatMu sync.Mutex // one keepalive at a time, so states arrive in order
}

// NewSelf checks cfg and returns a Self; call Start to register.
func NewSelf(cfg SelfConfig) (*Self, error) {
	if cfg.Registry == nil || cfg.Node == nil {
		return nil, errors.New("node: SelfConfig needs Registry and Node")
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.Heartbeat < 0 {
		return nil, fmt.Errorf("node: Heartbeat must be > 0, got %s", cfg.Heartbeat)
	}
	if cfg.Heartbeat >= cfg.Registry.DeadAfter() {
		return nil, fmt.Errorf("node: Heartbeat (%s) must be shorter than the registry's DeadAfter (%s), or the node is declared dead between keepalives", cfg.Heartbeat, cfg.Registry.DeadAfter())
	}
	if cfg.Running == nil {
		cfg.Running = func() int { return 0 }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if err := validate(clone(cfg.Node)); err != nil {
		return nil, fmt.Errorf("node: registration of this process: %w", err)
	}
	s := &Self{
		cfg: cfg, reg: cfg.Registry, log: cfg.Logger, name: cfg.Node.Name,
		state: connecthub.NodeActive,
	}
	s.OneShot = true
	return s, nil
}

// Name returns the node's name.
func (s *Self) Name() string { return s.name }

// Start registers the node, then keeps it alive until Stop. The first
// keepalive goes out at once and reports the node active. Registration
// errors are returned: a server that cannot write its own registration has
// a database problem worth failing on.
func (s *Self) Start(ctx context.Context) error {
	runCtx, started, stopped, err := s.StartInit(ctx)
	if err != nil {
		return fmt.Errorf("node: self: %w", err)
	}
	if err := s.register(runCtx); err != nil {
		stopped(nil)
		return err
	}
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	go func() {
		started()
		s.loop(runCtx)
		stopped(s.deregister(s.WindDownContext(runCtx)))
	}()
	return nil
}

// Deactivate reports the node "deactivating" at once and in every later
// keepalive: the process is shutting down and draining its runs. Call it
// when shutdown begins, before the pool stops.
func (s *Self) Deactivate(ctx context.Context) {
	s.mu.Lock()
	s.state = connecthub.NodeDeactivating
	started := s.started
	s.mu.Unlock()
	if started {
		s.beat(ctx)
	}
}

// Stop ends the keepalives and deregisters the node (prestop), within
// ctx. It is safe to call twice, and before Start.
func (s *Self) Stop(ctx context.Context) error { return s.StopContext(ctx) }

// deregister is the wind-down: the prestop, after the last keepalive.
func (s *Self) deregister(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		// Start's context was cancelled: nobody bounds the wind-down, so
		// bound it here rather than hang on a database that does not answer.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, prestopTimeout)
		defer cancel()
	}
	s.beatMu.Lock()
	defer s.beatMu.Unlock()
	if err := s.reg.Prestop(ctx, s.name); err != nil {
		return fmt.Errorf("node: deregister %s: %w", s.name, err)
	}
	return nil
}

// prestopTimeout bounds a deregistration that no caller's deadline bounds.
const prestopTimeout = 5 * time.Second

func (s *Self) loop(ctx context.Context) {
	timer := s.cfg.Clock.NewTimer(s.cfg.Heartbeat)
	timer.Stop() // armed only while waiting, so that a pending timer means idle
	defer timer.Stop()
	for {
		s.beat(ctx)
		if ctx.Err() != nil {
			return
		}
		timer.Reset(s.cfg.Heartbeat)
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
	}
}

// beat sends one keepalive and applies the setting state it reads back. A
// node the registry no longer knows (an operator cleaned it) registers
// again: it is alive, and the registry should say so.
func (s *Self) beat(parent context.Context) {
	s.beatMu.Lock()
	defer s.beatMu.Unlock()
	// A keepalive that hangs must not delay the next one past DeadAfter;
	// the floor keeps very short heartbeats (tests) from timing out on a
	// merely busy database.
	ctx, cancel := context.WithTimeout(parent, max(s.cfg.Heartbeat*2, 2*time.Second))
	defer cancel()
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	n, err := s.reg.Keepalive(ctx, s.name, state, s.cfg.Running())
	if connecthub.IsKind(err, connecthub.KindNotFound) {
		s.log.WarnContext(ctx, "this node's registration was removed; registering again", "node", s.name)
		err = s.register(ctx)
		if err == nil {
			n, err = s.reg.Keepalive(ctx, s.name, state, s.cfg.Running())
		}
	}
	if err != nil {
		if parent.Err() == nil { // not a keepalive that Stop interrupted
			s.log.WarnContext(ctx, "node keepalive failed; retrying at the next heartbeat", "node", s.name, "err", err)
		}
		return
	}
	s.apply(n.SettingState)
}

func (s *Self) register(ctx context.Context) error {
	reg := clone(s.cfg.Node)
	reg.Running = s.cfg.Running()
	n, err := s.reg.Register(ctx, reg)
	if err != nil {
		return fmt.Errorf("node: register %s: %w", s.name, err)
	}
	s.apply(n.SettingState)
	return nil
}

// apply pauses or resumes the pool when the setting state changed since it
// was last seen. A node registered as stopped (its stop outlived a
// restart) starts paused.
func (s *Self) apply(setting string) {
	s.mu.Lock()
	prev := s.setting
	s.setting = setting
	s.mu.Unlock()
	if setting == prev || s.cfg.Pool == nil {
		return
	}
	switch {
	case setting == connecthub.NodeInactive:
		s.log.Info("node stopped by an operator: claiming no new runs, finishing the runs in flight", "node", s.name)
		s.cfg.Pool.Pause()
	case setting == connecthub.NodeActive && prev == connecthub.NodeInactive:
		s.log.Info("node started by an operator: claiming runs again", "node", s.name)
		s.cfg.Pool.Resume()
	}
}
