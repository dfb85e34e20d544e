package cli

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
)

func newJobCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "job", Short: "Manage jobs through the API"}
	cf.register(cmd)

	var jf client.JobFilter
	list := &cobra.Command{Use: "list", Short: "List jobs", Args: cobra.NoArgs,
		RunE: apiCmd(env, &cf, func(a apiCall) (*client.JobList, error) { return a.c.Jobs.List(a.ctx, jf) },
			func(_ apiCall, page *client.JobList) error { return env.printJobs(page, &jf) })}
	list.Flags().StringVar(&jf.Query, "q", "", "search id and description")
	list.Flags().StringVar(&jf.Handler, "handler", "", "only this handler")
	list.Flags().StringVar(&jf.Enabled, "enabled", "", "true or false")
	list.Flags().IntVar(&jf.Limit, "limit", 50, "page size (max 500)")

	get := &cobra.Command{Use: "get ID", Short: "Show a job", Args: cobra.ExactArgs(1),
		RunE: apiCmd(env, &cf, func(a apiCall) (*connecthub.Job, error) { return a.c.GetJob(a.ctx, a.args[0]) }, env.printJob)}

	save := func(jf *jobFlags, create bool, call func(a apiCall, body json.RawMessage) (*client.SavedJob, error)) runE {
		return func(cmd *cobra.Command, args []string) error {
			body, err := jf.body(cmd, env, create)
			if err != nil {
				return err
			}
			return apiCmd(env, &cf, func(a apiCall) (*client.SavedJob, error) { return call(a, body) },
				env.printSavedJob)(cmd, args)
		}
	}
	var jf1, jf2 jobFlags
	create := &cobra.Command{Use: "create [--file job.json | --id ID --handler NAME ...]",
		Short: "Create a job from a JSON file (- for stdin) or from flags", Args: cobra.NoArgs,
		RunE: save(&jf1, true, func(a apiCall, body json.RawMessage) (*client.SavedJob, error) { return a.c.CreateJob(a.ctx, body) })}
	jf1.register(create, true)
	update := &cobra.Command{Use: "update ID [--file patch.json | flags]", Short: "Change some fields of a job", Args: cobra.ExactArgs(1),
		RunE: save(&jf2, false, func(a apiCall, body json.RawMessage) (*client.SavedJob, error) {
			return a.c.UpdateJob(a.ctx, a.args[0], body)
		})}
	jf2.register(update, false)

	var follow bool
	var paramPairs []string
	var paramsFile string
	run := &cobra.Command{Use: "run ID", Short: "Run a job now", Args: cobra.ExactArgs(1),
		RunE: clientRun(env, &cf, func(a apiCall) error {
			params, err := runParams(env, paramsFile, paramPairs)
			if err != nil {
				return err
			}
			r, err := a.c.RunJobWith(a.ctx, a.args[0], params)
			if err != nil {
				return err
			}
			if follow {
				return followRun(a.ctx, env, a.c, r.ID)
			}
			return show(env, &cf, a, r, env.printRun)
		}),
	}
	run.Flags().BoolVarP(&follow, "follow", "f", false, "follow the run's log until it ends (exit 1 unless SUCCESS)")
	run.Flags().StringArrayVar(&paramPairs, "param", nil, "a parameter for this run only, key=value (JSON values allowed); repeatable")
	run.Flags().StringVar(&paramsFile, "params-file", "", "parameters for this run only from a JSON object file (- for stdin)")

	toggle := func(use string, on bool) *cobra.Command {
		return &cobra.Command{Use: use + " ID", Short: strings.ToUpper(use[:1]) + use[1:] + " a job", Args: cobra.ExactArgs(1),
			RunE: apiCmd(env, &cf, func(a apiCall) (*connecthub.Job, error) { return a.c.SetJobEnabled(a.ctx, a.args[0], on) }, env.printJob)}
	}
	var yes bool
	del := &cobra.Command{Use: "delete ID", Short: "Delete a job and all its runs", Args: cobra.ExactArgs(1),
		RunE: checked(func(args []string) error {
			if !yes {
				return usageError("deleting job %s also deletes all its runs: add --yes to confirm", args[0])
			}
			return nil
		}, apiCmd(env, &cf, func(a apiCall) (map[string]any, error) {
			return map[string]any{"deleted": a.args[0]}, a.c.DeleteJob(a.ctx, a.args[0])
		}, func(a apiCall, _ map[string]any) error { return say(env, "deleted job %s", a.args[0]) }))}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "confirm")
	cmd.AddCommand(list, get, create, update, run, toggle("enable", true), toggle("disable", false), del)
	addRevisionCmds(cmd, &cf, env)
	return cmd
}
