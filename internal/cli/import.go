package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/pyimport"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
)

const importLong = `Import the jobs (and with --history their job_logs) of a Python ConnectHub.

--from is its database: postgres://user:pass@host:5432/db or sqlite:///path/app.db.
Every job is validated as a save through the API is; its secret_cfg token is
cleaned, decrypted with the Python key file (--key) and re-encrypted with this
server's key. handler_path maps to a handler: the three seed examples to the
built-in sync_oa_to_didi.*, anything else to py:<handler_path> (served by
connecthub-worker --legacy-path), --map FILE (YAML or JSON) overrides.
last_run_at is kept, so the first slot after it fires and no earlier one.

Importing again updates changed jobs and adds only new history. A job that
cannot be imported is listed with its reason; the others proceed, and the
exit code is 1. --dry-run prints the plan and writes nothing.
See docs/migrating-from-python.md.`

func newImportCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "import", Short: "Import jobs and history from another system (the Python ConnectHub)"}
	var (
		flags                   serverFlags
		from, keyFile, mapFile  string
		since                   string
		history, dryRun, asJSON bool
	)
	py := &cobra.Command{
		Use:   "python",
		Short: "Import the jobs and history of a Python ConnectHub",
		Long:  importLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return usageError("import python: --from is required (postgres://… or sqlite:///path)")
			}
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			opts := importOptions{from: from, keyFile: keyFile, mapFile: mapFile, history: history, dryRun: dryRun, asJSON: asJSON}
			if since != "" {
				t, err := pyimport.ParseSince(since)
				if err != nil {
					return usageError("%s", err)
				}
				opts.since = &t
			}
			return importPython(cmd.Context(), env, cfg, opts)
		},
	}
	flags.register(py, false)
	f := py.Flags()
	f.StringVar(&from, "from", "", "the Python ConnectHub's database URL (postgres://… or sqlite:///path)")
	f.StringVar(&keyFile, "key", "", "the Python ConnectHub's Fernet key file, to decrypt secret_cfg")
	f.StringVar(&mapFile, "map", "", "a YAML or JSON file mapping handler_path to a handler name")
	f.BoolVar(&history, "history", false, "import job_logs as runs too")
	f.StringVar(&since, "since", "", "with --history, only rows from this date (2024-05-01, Asia/Shanghai) or RFC 3339 time")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan per job and write nothing")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.AddCommand(py)
	return cmd
}

type importOptions struct {
	from, keyFile, mapFile  string
	history, dryRun, asJSON bool
	since                   *time.Time
}

func importPython(ctx context.Context, env *Env, cfg *config.Config, o importOptions) error {
	var oldKeys *secret.Keyring
	if o.keyFile != "" {
		k, err := secret.Load(o.keyFile)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		oldKeys = k
	}
	var overrides map[string]string
	if o.mapFile != "" {
		m, err := pyimport.LoadMapFile(o.mapFile)
		if err != nil {
			return err
		}
		overrides = m
	}
	src, err := pyimport.OpenSource(ctx, o.from, false)
	if err != nil {
		return err
	}
	defer src.Close()
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, keys, cleanup, err := openImportTarget(ctx, cfg, log, o.dryRun)
	if err != nil {
		return err
	}
	defer cleanup()
	reg, err := server.Handlers(cfg, handler.Default(), env.Registry)
	if err != nil {
		return err
	}
	serverSecrets, err := importServerSecrets(cfg)
	if err != nil {
		return err
	}
	rep, err := pyimport.Run(ctx, pyimport.Config{
		Source: src, SourceName: redactURL(o.from), OldKeys: oldKeys, Mapping: pyimport.NewMapping(overrides),
		Service: service.Config{Store: st, Keys: keys, Registry: reg, DisabledHandlers: server.DisabledHandlers(cfg),
			Defaults: connecthub.JobDefaults{Timezone: cfg.Timezone, RetryBackoff: connecthub.Duration(cfg.RetryBackoff)}},
		Store: st, ServerSecrets: serverSecrets, RunLogMaxBytes: cfg.RunLogMaxBytes,
		History: o.history, Since: o.since, DryRun: o.dryRun, Progress: env.Stderr,
	})
	if rep != nil {
		if o.asJSON {
			if jerr := writeJSONOut(env, rep); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			pyimport.ReportText(env.Stdout, rep)
		}
	}
	if err != nil {
		return err
	}
	if rep.Refused > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d job(s) refused; the others were %s", rep.Refused,
			map[bool]string{true: "planned (dry run)", false: "imported"}[o.dryRun])}
	}
	return nil
}

// openImportTarget opens ConnectHub's database and key for an import. A
// dry run writes nothing: a SQLite database that does not exist yet is
// stood in for by a throwaway one, and a missing key file by a throwaway
// key, since nothing they would encrypt is kept.
func openImportTarget(ctx context.Context, cfg *config.Config, log *slog.Logger, dryRun bool) (store.Store, *secret.Keyring, func(), error) {
	cleanup := func() {}
	dryCfg := *cfg
	if dryRun && cfg.DBDriver() == config.DriverSQLite {
		if _, err := os.Stat(cfg.SQLitePath()); errors.Is(err, fs.ErrNotExist) {
			dir, err := os.MkdirTemp("", "connecthub-import-dry-*")
			if err != nil {
				return nil, nil, nil, err
			}
			cleanup = func() { os.RemoveAll(dir) }
			dryCfg.DBURL = "sqlite://" + filepath.Join(dir, "dry.db")
		}
	}
	st, err := server.OpenStore(ctx, &dryCfg, log)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	done := func() { st.Close(); cleanup() }
	var keys *secret.Keyring
	if _, statErr := os.Stat(cfg.FernetKeyPath); dryRun && errors.Is(statErr, fs.ErrNotExist) {
		k, kerr := secret.GenerateKey()
		if kerr == nil {
			keys, err = secret.Parse(k, "a throwaway key (dry run)")
		} else {
			err = kerr
		}
	} else {
		keys, err = server.OpenKeys(ctx, cfg.FernetKeyPath, st, log)
	}
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return st, keys, done, nil
}

// importServerSecrets lists the server's own secrets, masked out of the
// imported history as out of every run. The admin token file is read if
// it exists, never created.
func importServerSecrets(cfg *config.Config) ([]string, error) {
	token := cfg.AdminToken.Value()
	if token == "" {
		if b, err := os.ReadFile(cfg.AdminTokenPath()); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	keyFile := cfg.FernetKeyPath
	if _, err := os.Stat(keyFile); err != nil {
		keyFile = ""
	}
	return runrules.ServerSecrets(token, cfg.AdminPassword.Value(), cfg.WorkerToken.Value(), cfg.DBURL, keyFile)
}

// redactURL is a database URL without its credentials, for the record of
// an import's batch.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "python import"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
