package server

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/notify"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store"
)

// notifyRuntime is a node's part in notifications: the service the API
// and pages call, the processor that turns events into notifications and
// the sender that delivers them. Every replica runs all three; the store
// makes sure each event is decided once and each notification sent by
// one replica at a time.
type notifyRuntime struct {
	svc    *notify.Service
	sender *notify.Sender
	proc   *notify.Processor
}

func newNotifyRuntime(st store.Store, keys *secret.Keyring, cfg *config.Config, node string, log *slog.Logger, reg prometheus.Registerer) *notifyRuntime {
	sender := notify.NewSender(notify.SenderConfig{Store: st, Keyring: keys, Owner: node, PublicURL: cfg.PublicURL,
		Location: cfg.Location(), Logger: log, Registerer: reg})
	return &notifyRuntime{
		svc:    &notify.Service{Store: st, Keyring: keys, Clock: clock.Real(), Wake: sender.Wake},
		sender: sender,
		proc:   notify.NewProcessor(notify.ProcessorConfig{Store: st, Notified: sender.Wake, Logger: log}),
	}
}

func (n *notifyRuntime) start(ctx context.Context) error {
	if err := n.sender.Start(ctx); err != nil {
		return err
	}
	return n.proc.Start(ctx)
}

// stop stops detecting first, then delivering: a notification whose
// delivery is cut short keeps its lease until it ends, and another
// replica (or this one, restarted) sends it then.
func (n *notifyRuntime) stop(ctx context.Context, log *slog.Logger) {
	if err := n.proc.Stop(ctx); err != nil {
		log.Warn("notify processor stop", "err", err)
	}
	if err := n.sender.Stop(ctx); err != nil {
		log.Warn("notify sender stop", "err", err)
	}
}
