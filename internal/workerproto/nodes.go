package workerproto

import (
	"context"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/protocol"
)

// Register registers (or re-registers) a worker node and returns it as the
// registry knows it. The registry validates the registration and names the
// field at fault (handlers[2].name, labels.zone).
func (s *Service) Register(ctx context.Context, req protocol.RegisterRequest) (*connecthub.Node, error) {
	if err := s.authorizeRegister(ctx, req.Name, req.Queues); err != nil {
		return nil, err
	}
	return s.cfg.Nodes.Register(ctx, &connecthub.Node{
		Name:           req.Name,
		Kind:           connecthub.NodeKindWorker,
		Version:        req.Version,
		Endpoint:       req.Endpoint,
		Queues:         req.Queues,
		Handlers:       req.Handlers,
		MaxConcurrency: req.MaxConcurrency,
		MetricsPort:    req.MetricsPort,
		Labels:         req.Labels,
		OwnerToken:     ownerOf(ctx),
	})
}

// Keepalive records a node's heartbeat and returns the node, whose
// SettingState tells the worker whether an operator wants it active.
func (s *Service) Keepalive(ctx context.Context, req protocol.KeepaliveRequest) (*connecthub.Node, error) {
	if err := s.authorizeNode(ctx, req.Name); err != nil {
		return nil, err
	}
	return s.cfg.Nodes.Keepalive(ctx, req.Name, req.State, req.Running)
}

// Prestop deregisters a node that stops gracefully. It is idempotent: a
// prestop retried after its answer was lost succeeds.
func (s *Service) Prestop(ctx context.Context, req protocol.PrestopRequest) error {
	if err := s.authorizeNode(ctx, req.Name); err != nil {
		return err
	}
	return s.cfg.Nodes.Prestop(ctx, req.Name)
}
