package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/internal/dbadmin"
	"github.com/connecthub/connecthub/internal/pyimport"
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
			opts := dbadmin.ImportOptions{From: from, KeyFile: keyFile, MapFile: mapFile, History: history, DryRun: dryRun,
				Handlers: env.Registry, Log: env.Stderr}
			if since != "" {
				t, err := pyimport.ParseSince(since)
				if err != nil {
					return usageError("%s", err)
				}
				opts.Since = &t
			}
			rep, err := dbadmin.ImportPython(cmd.Context(), cfg, opts)
			if rep != nil {
				if asJSON {
					if jerr := writeJSONOut(env, rep); jerr != nil && err == nil {
						err = jerr
					}
				} else {
					pyimport.ReportText(env.Stdout, rep)
				}
			}
			if err == nil && rep.Refused > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d job(s) refused; the others were %s", rep.Refused,
					map[bool]string{true: "planned (dry run)", false: "imported"}[dryRun])}
			}
			return err
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
