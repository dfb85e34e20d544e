package dbadmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

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

// ImportOptions say what to import from a Python ConnectHub and how.
type ImportOptions struct {
	From    string     // its database URL: postgres://… or sqlite:///path
	KeyFile string     // its Fernet key file, to decrypt secret_cfg ("" = none)
	MapFile string     // a YAML or JSON file mapping handler_path to a handler ("" = none)
	History bool       // import job_logs as runs too
	Since   *time.Time // with History, only rows from then on
	DryRun  bool       // plan only: write nothing
	// Handlers are the handlers of this build beyond the default registry
	// (tests add theirs); the jobs are validated against both.
	Handlers *handler.Registry
	// Log receives warnings and the import's progress (the CLI's stderr).
	Log io.Writer
}

// ImportPython imports a Python ConnectHub's jobs (and history) into the
// database of cfg, as pyimport.Run does, opening the store, the key and
// the handlers the way a node does. The report is returned with any
// error, so that what was done can be shown either way.
func ImportPython(ctx context.Context, cfg *config.Config, o ImportOptions) (*pyimport.Report, error) {
	var oldKeys *secret.Keyring
	if o.KeyFile != "" {
		k, err := secret.Load(o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		oldKeys = k
	}
	var overrides map[string]string
	if o.MapFile != "" {
		m, err := pyimport.LoadMapFile(o.MapFile)
		if err != nil {
			return nil, err
		}
		overrides = m
	}
	src, err := pyimport.OpenSource(ctx, o.From, false)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	log := slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, keys, cleanup, err := openImportTarget(ctx, cfg, log, o.DryRun)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	reg, err := server.Handlers(cfg, handler.Default(), o.Handlers)
	if err != nil {
		return nil, err
	}
	serverSecrets, err := importServerSecrets(cfg)
	if err != nil {
		return nil, err
	}
	return pyimport.Run(ctx, pyimport.Config{
		Source: src, SourceName: redactURL(o.From), OldKeys: oldKeys, Mapping: pyimport.NewMapping(overrides),
		Service: service.Config{Store: st, Keys: keys, Registry: reg, DisabledHandlers: server.DisabledHandlers(cfg),
			Defaults: connecthub.JobDefaults{Timezone: cfg.Timezone, RetryBackoff: connecthub.Duration(cfg.RetryBackoff)}},
		Store: st, ServerSecrets: serverSecrets, RunLogMaxBytes: cfg.RunLogMaxBytes,
		History: o.History, Since: o.Since, DryRun: o.DryRun, Progress: o.Log,
	})
}

// ExportPython writes each job's enabled and last_run_at back to the
// Python ConnectHub's database at to (nothing with dryRun), for a
// rollback to it. The results are returned with any error.
func ExportPython(ctx context.Context, cfg *config.Config, to string, dryRun bool, logOut io.Writer) ([]pyimport.ExportResult, error) {
	src, err := pyimport.OpenSource(ctx, to, !dryRun)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if cfg.DBDriver() == config.DriverSQLite {
		if _, err := os.Stat(cfg.SQLitePath()); err != nil {
			return nil, fmt.Errorf("there is no ConnectHub database at %s to export from: %w", cfg.SQLitePath(), err)
		}
	}
	st, err := server.OpenStore(ctx, cfg, slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return pyimport.Export(ctx, src, st, dryRun)
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
