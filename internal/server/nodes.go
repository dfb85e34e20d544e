package server

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/maintenance"
	"github.com/connecthub/connecthub/internal/node"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/worker"
)

// nodeRuntime is what a server runs of the node registry: the reaper,
// which declares silent nodes dead and rescues their runs (every replica
// runs one; a pass is one idempotent transaction), and, when this server
// has a worker pool, the pool's own registration as a node of kind
// "server", kept alive by keepalives and paused or resumed by operators'
// stop and start.
type nodeRuntime struct {
	reg    *node.Registry
	reaper *maintenance.NodeReaper
	self   *node.Self // nil without a worker pool
	log    *slog.Logger
}

func newNodeRuntime(st store.Store, cfg *config.Config, log *slog.Logger, promReg prometheus.Registerer) (*nodeRuntime, error) {
	log = log.With("component", "nodes")
	reg, err := node.New(node.Config{Store: st, DeadAfter: cfg.NodeDeadAfter, Logger: log, Metrics: promReg})
	if err != nil {
		return nil, err
	}
	reaper, err := maintenance.NewNodeReaper(maintenance.NodeReaperConfig{Store: st, DeadAfter: reg.DeadAfter(), Logger: log})
	if err != nil {
		return nil, err
	}
	return &nodeRuntime{reg: reg, reaper: reaper, log: log}, nil
}

// start starts the reaper and registers the pool, if any, as the node
// name, reachable (API, /metrics) at endpoint. The pool must be started:
// the node reports itself active at once.
func (nr *nodeRuntime) start(ctx context.Context, name, endpoint string, cfg *config.Config, handlers *handler.Registry, pool *worker.Worker) error {
	if err := nr.reaper.Start(ctx); err != nil {
		return err
	}
	if pool == nil {
		return nil
	}
	self, err := node.NewSelf(node.SelfConfig{
		Registry: nr.reg,
		Node: &connecthub.Node{
			Name: name, Kind: connecthub.NodeKindServer, Version: connecthub.Version, Endpoint: endpoint,
			Queues: cfg.Queues, Handlers: NodeHandlers(handlers), MaxConcurrency: cfg.Workers,
		},
		Heartbeat: cfg.Heartbeat,
		Running:   pool.Running,
		Pool:      pool,
		Logger:    nr.log,
	})
	if err != nil {
		return err
	}
	if err := self.Start(ctx); err != nil {
		return err
	}
	nr.self = self
	return nil
}

// deactivate reports the node "deactivating" as shutdown begins, so the
// registry shows it draining rather than serving.
func (nr *nodeRuntime) deactivate(ctx context.Context) {
	if nr.self != nil {
		nr.self.Deactivate(ctx)
	}
}

// stop deregisters the node (after the pool handed its runs back) and
// stops the reaper.
func (nr *nodeRuntime) stop(ctx context.Context) {
	if nr.self != nil {
		if err := nr.self.Stop(ctx); err != nil {
			nr.log.Warn("node deregistration", "err", err)
		}
	}
	if err := nr.reaper.Stop(ctx); err != nil {
		nr.log.Warn("node reaper stop", "err", err)
	}
}
