package cli

import (
	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/internal/dbadmin"
	"github.com/connecthub/connecthub/internal/pyimport"
)

func newExportCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "export", Short: "Write job definitions as YAML (export python: state back to the Python ConnectHub)"}
	var (
		flags          serverFlags
		to             string
		dryRun, asJSON bool
	)
	py := &cobra.Command{
		Use:   "python",
		Short: "Write enabled and last_run_at back to a Python ConnectHub's database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usageError("export python: --to is required (postgres://… or sqlite:///path)")
			}
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			results, err := dbadmin.ExportPython(cmd.Context(), cfg, to, dryRun, env.Stderr)
			if asJSON {
				if jerr := writeJSONOut(env, results); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				pyimport.ExportText(env.Stdout, results, dryRun)
			}
			return err
		},
	}
	flags.register(py, false)
	py.Flags().StringVar(&to, "to", "", "the Python ConnectHub's database URL (postgres://… or sqlite:///path)")
	py.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be written; write nothing")
	py.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	cmd.AddCommand(py)
	addYAMLExport(env, cmd)
	return cmd
}
