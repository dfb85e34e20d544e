package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
)

// serverFlags are the flags that override configuration variables.
type serverFlags struct {
	listen, dataDir, dbURL, workers string
}

func (f *serverFlags) register(cmd *cobra.Command, withServe bool) {
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "data directory (CONNECTHUB_DATA_DIR, default ./data)")
	cmd.Flags().StringVar(&f.dbURL, "db-url", "", "database URL (CONNECTHUB_DB_URL, default sqlite://<data dir>/connecthub.db)")
	if withServe {
		cmd.Flags().StringVar(&f.listen, "listen", "", "listen address, host:port; an empty host is every interface (CONNECTHUB_LISTEN, default :8000)")
		cmd.Flags().StringVar(&f.workers, "workers", "", "concurrent runs of this node, 0 = none (CONNECTHUB_WORKERS, default 20)")
	}
}

func (f *serverFlags) load(env *Env) (*config.Config, error) {
	return config.Load(env.Getenv, env.DotEnv,
		config.Override{Variable: "CONNECTHUB_LISTEN", Value: f.listen, Flag: "--listen"},
		config.Override{Variable: "CONNECTHUB_DATA_DIR", Value: f.dataDir, Flag: "--data-dir"},
		config.Override{Variable: "CONNECTHUB_DB_URL", Value: f.dbURL, Flag: "--db-url"},
		config.Override{Variable: "CONNECTHUB_WORKERS", Value: f.workers, Flag: "--workers"},
	)
}

func newServeCmd(env *Env) *cobra.Command {
	return dbCmd(env, "serve", "Run the API, the scheduler and a worker pool", true, func(ctx context.Context, cfg *config.Config) error {
		return serve(ctx, env, cfg)
	})
}

// serve runs a node until ctx is cancelled; internal/server owns its
// wiring and its shutdown order. The node runs the handlers of the default
// registry (the stock ones, registered by handlers/standard) and the extra
// ones of env.
func serve(ctx context.Context, env *Env, cfg *config.Config) error {
	reg, err := server.Handlers(cfg, handler.Default(), env.Registry)
	if err != nil {
		return err
	}
	srv, err := server.New(ctx, cfg, server.Options{Handlers: reg, LogOutput: env.Stderr})
	if err != nil {
		return err
	}
	defer env.notifyReady(srv.Ready(), srv.Addr)()
	return srv.Run(ctx)
}

// notifyReady calls env.Ready with addr() once ready is closed, from a
// goroutine of its own; the returned function ends that goroutine when
// the program stopped before it was ready.
func (env *Env) notifyReady(ready <-chan struct{}, addr func() string) (stop func()) {
	if env.Ready == nil {
		return func() {}
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ready:
			env.Ready(addr())
		case <-stopped:
		}
	}()
	return func() { close(stopped) }
}
