package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/internal/dbadmin"
	"github.com/connecthub/connecthub/internal/pyimport"
)

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
