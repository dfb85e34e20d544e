package server

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/maintenance"
	"github.com/connecthub/connecthub/internal/service"
)

// newRunCleaner builds the cleaner that applies the jobs' retention with
// CONNECTHUB_RUN_RETENTION as the default keep_for.
func newRunCleaner(svc *service.Service, cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*maintenance.RunCleaner, error) {
	return maintenance.NewRunCleaner(maintenance.RunCleanerConfig{Logger: log, Metrics: reg, StartDelay: cfg.CleanDelay,
		Clean: func(ctx context.Context, deleted func(int64)) (maintenance.RunCleanReport, error) {
			rep, err := svc.RetentionPass(ctx, cfg.RunRetention, deleted)
			return maintenance.RunCleanReport{Jobs: rep.Jobs, Deleted: rep.Deleted, Busy: rep.Busy}, err
		}})
}
