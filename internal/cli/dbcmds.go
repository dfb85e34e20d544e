package cli

// The commands that run a node (serve) or work on its database and data
// directory directly rather than through a server's API: they take
// --data-dir and --db-url and read the configuration as serve does.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/backup"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/dbadmin"
	"github.com/connecthub/connecthub/internal/pyimport"
	"github.com/connecthub/connecthub/internal/server"
)

// dbCmd is a command that runs on the configuration serve would read,
// with --data-dir and --db-url (and serve's own flags when withServe).
func dbCmd(env *Env, use, short string, withServe bool, run func(ctx context.Context, cfg *config.Config) error) *cobra.Command {
	var flags serverFlags
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		cfg, err := flags.load(env)
		if err != nil {
			return err
		}
		return run(cmd.Context(), cfg)
	}}
	flags.register(cmd, withServe)
	return cmd
}

func newMigrateCmd(env *Env) *cobra.Command {
	return dbCmd(env, "migrate", "Apply database migrations (serve also does this on start)", false, func(ctx context.Context, cfg *config.Config) error {
		applied, err := dbadmin.Migrate(ctx, cfg)
		if err != nil || len(applied) == 0 {
			return orSay(env, err, "database is up to date")
		}
		for _, v := range applied {
			fmt.Fprintf(env.Stdout, "applied migration %d\n", v)
		}
		return nil
	})
}

func newConfigCmd(env *Env) *cobra.Command {
	var asJSON bool
	cmd := dbCmd(env, "config", "Print the effective configuration (secrets redacted)", true, func(_ context.Context, cfg *config.Config) error {
		if asJSON {
			return writeJSONOut(env, cfg.Redacted())
		}
		return table(env, cfg.Redacted(), "", "VARIABLE\tVALUE\tSOURCE", func(s config.Setting) []any { return []any{s.Name, s.Value, s.Source} })
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newStatsCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "stats", Short: "Maintain the run counts behind the stats, the metrics and the dashboard"}
	cmd.AddCommand(dbCmd(env, "rebuild", "Recompute the run counts from the runs table", false, func(ctx context.Context, cfg *config.Config) error {
		s, took, err := dbadmin.RebuildStats(ctx, cfg)
		if err != nil {
			return err
		}
		var total int64
		parts := []string{}
		for _, status := range connecthub.AllStatuses {
			if status.Terminal() {
				total += s.Runs[status]
				parts = append(parts, fmt.Sprintf("%s %d", status, s.Runs[status]))
			}
		}
		return say(env, "rebuilt the run counts in %s: %d finished runs (%s)", took.Round(time.Millisecond), total, strings.Join(parts, ", "))
	}))
	return cmd
}

func newSecretsCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "secrets", Short: "Manage the encrypted job secrets (key rotation)"}
	var dryRun bool
	rotate := dbCmd(env, "rotate", "Re-encrypt every stored secret with the first key of the key file", false, func(ctx context.Context, cfg *config.Config) error {
		return backup.RotateSecrets(ctx, env.streams(), cfg, dryRun)
	})
	rotate.Flags().BoolVar(&dryRun, "dry-run", false, "check that every secret decrypts and count what would change; write nothing")
	cmd.AddCommand(rotate)
	return cmd
}

// newArchiveCmd is backup (--out) or restore (--in): a file argument that
// must not be empty, and --force.
func newArchiveCmd(env *Env, use, short, flag, usage, forceUsage string,
	do func(context.Context, backup.Streams, *config.Config, string, bool) error) *cobra.Command {
	var file string
	var force bool
	cmd := dbCmd(env, use, short, false, func(ctx context.Context, cfg *config.Config) error {
		if strings.TrimSpace(file) == "" {
			return usageError("--%s FILE must not be empty", flag)
		}
		return do(ctx, env.streams(), cfg, file, force)
	})
	cmd.Flags().StringVar(&file, flag, "", usage)
	cmd.Flags().BoolVar(&force, "force", false, forceUsage)
	_ = cmd.MarkFlagRequired(flag)
	return cmd
}

func newBackupCmd(env *Env) *cobra.Command {
	return newArchiveCmd(env, "backup --out FILE", "Write the database (SQLite) and the key file into one archive; works while the server runs",
		"out", "archive to write (.tar.gz)", "replace FILE if it exists", backup.Backup)
}

func newRestoreCmd(env *Env) *cobra.Command {
	return newArchiveCmd(env, "restore --in FILE", "Replace the database (SQLite) and the key file with those of a backup archive",
		"in", "archive to restore (.tar.gz from connecthub backup)", "replace an existing database and key file (they are kept as .bak)", backup.Restore)
}

// streams are the output streams of the backup package's commands.
func (env *Env) streams() backup.Streams {
	return backup.Streams{Stdout: env.Stdout, Stderr: env.Stderr}
}

func newImportCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "import", Short: "Import jobs and history from another system (the Python ConnectHub)"}
	var since string
	var asJSON bool
	opts := dbadmin.ImportOptions{Handlers: env.Registry, Log: env.Stderr}
	py := dbCmd(env, "python", "Import the jobs and history of a Python ConnectHub", false, func(ctx context.Context, cfg *config.Config) error {
		if since != "" {
			t, err := pyimport.ParseSince(since)
			if err != nil {
				return usageError("%s", err)
			}
			opts.Since = &t
		}
		rep, err := dbadmin.ImportPython(ctx, cfg, opts)
		if rep != nil {
			err = printReport(env, asJSON, rep, err, func() { pyimport.ReportText(env.Stdout, rep) })
		}
		if err == nil && rep.Refused > 0 {
			return &exitError{code: 1, err: fmt.Errorf("%d job(s) refused; the others were %s", rep.Refused,
				map[bool]string{true: "planned (dry run)", false: "imported"}[opts.DryRun])}
		}
		return err
	})
	py.RunE = checked(need(func() bool { return opts.From != "" }, "import python: --from is required (postgres://… or sqlite:///path)"), py.RunE)
	f := py.Flags()
	f.StringVar(&opts.From, "from", "", "the Python ConnectHub's database URL (postgres://… or sqlite:///path)")
	f.StringVar(&opts.KeyFile, "key", "", "the Python ConnectHub's Fernet key file, to decrypt secret_cfg")
	f.StringVar(&opts.MapFile, "map", "", "a YAML or JSON file mapping handler_path to a handler name")
	f.BoolVar(&opts.History, "history", false, "import job_logs as runs too")
	f.StringVar(&since, "since", "", "with --history, only rows from this date (2024-05-01, Asia/Shanghai) or RFC 3339 time")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the plan per job and write nothing")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.AddCommand(py)
	return cmd
}

func newExportCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "export", Short: "Write job definitions as YAML (export python: state back to the Python ConnectHub)"}
	var to string
	var dryRun, asJSON bool
	py := dbCmd(env, "python", "Write enabled and last_run_at back to a Python ConnectHub's database", false, func(ctx context.Context, cfg *config.Config) error {
		results, err := dbadmin.ExportPython(ctx, cfg, to, dryRun, env.Stderr)
		return printReport(env, asJSON, results, err, func() { pyimport.ExportText(env.Stdout, results, dryRun) })
	})
	py.RunE = checked(need(func() bool { return to != "" }, "export python: --to is required (postgres://… or sqlite:///path)"), py.RunE)
	py.Flags().StringVar(&to, "to", "", "the Python ConnectHub's database URL (postgres://… or sqlite:///path)")
	py.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be written; write nothing")
	py.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	cmd.AddCommand(py)
	addYAMLExport(env, cmd)
	return cmd
}

// printReport prints what an import or export did, also when it stopped
// on err: as JSON, or as text does; err stays the error to return.
func printReport(env *Env, asJSON bool, v any, err error, text func()) error {
	if !asJSON {
		text()
		return err
	}
	if jerr := writeJSONOut(env, v); jerr != nil && err == nil {
		return jerr
	}
	return err
}

// orSay returns err, or says line when there is none.
func orSay(env *Env, err error, line string) error {
	if err != nil {
		return err
	}
	return say(env, "%s", line)
}

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
