package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/workerapp"
)

// workerFlags are the flags of `connecthub worker`.
type workerFlags struct {
	server, token, name, queues, concurrency, controlListen, dataDir string
	labels                                                           map[string]string
}

func newWorkerCmd(env *Env) *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker --server URL --token TOKEN",
		Short: "Run a remote worker that pulls runs from a server over the worker protocol",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(env.Getenv, env.DotEnv,
				config.Override{Variable: "CONNECTHUB_SERVER_URL", Value: f.server, Flag: "--server"},
				config.Override{Variable: "CONNECTHUB_WORKER_TOKEN", Value: f.token, Flag: "--token"},
				config.Override{Variable: "CONNECTHUB_WORKERS", Value: f.concurrency, Flag: "--concurrency"},
				config.Override{Variable: "CONNECTHUB_QUEUES", Value: f.queues, Flag: "--queues"},
				config.Override{Variable: "CONNECTHUB_DATA_DIR", Value: f.dataDir, Flag: "--data-dir"},
			)
			if err != nil {
				return err
			}
			return runWorker(cmd.Context(), env, cfg, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "server URL (CONNECTHUB_SERVER_URL, default http://127.0.0.1:8000)")
	fl.StringVar(&f.token, "token", "", "worker token (CONNECTHUB_WORKER_TOKEN; else the admin token as for client commands)")
	fl.StringVar(&f.name, "name", "", "node name, unique among the nodes (default hostname-pid)")
	fl.StringVar(&f.queues, "queues", "", "comma-separated queues to claim from (CONNECTHUB_QUEUES, default default)")
	fl.StringVar(&f.concurrency, "concurrency", "", "runs executed at once (CONNECTHUB_WORKERS, default 20)")
	fl.StringVar(&f.controlListen, "control-listen", workerapp.DefaultControlListen, "address of the control port (proc API, health, metrics)")
	fl.StringVar(&f.dataDir, "data-dir", "", "where to find admin.token when no token is given (CONNECTHUB_DATA_DIR)")
	fl.StringToStringVar(&f.labels, "label", nil, "a label of the node, key=value (repeatable; shown in the registry and Prometheus SD)")
	return cmd
}

// runWorker runs `connecthub worker`, the program of internal/workerapp,
// with the stock handlers and the extra ones of env.
func runWorker(ctx context.Context, env *Env, cfg *config.Config, f *workerFlags) error {
	reg, err := server.Handlers(cfg, handler.Default(), env.Registry)
	if err != nil {
		return err
	}
	w, err := workerapp.New(cfg, workerapp.Options{Name: f.name, ControlListen: f.controlListen,
		Labels: f.labels, Handlers: reg, LogOutput: env.Stderr})
	var usage *workerapp.UsageError
	if errors.As(err, &usage) {
		return usageError("%v", usage.Err)
	}
	if err != nil {
		return err
	}
	defer env.notifyReady(w.Ready(), w.ControlAddr)()
	return w.Run(ctx)
}
