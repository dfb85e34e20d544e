package cli

// The run command: inspect, retry and cancel runs through the API.

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/timefmt"
)

func newRunCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "run", Short: "Inspect, retry and cancel runs through the API"}
	cf.register(cmd)

	var rf client.RunFilter
	list := &cobra.Command{Use: "list", Short: "List runs, newest first", Args: cobra.NoArgs,
		RunE: apiCmd(env, &cf, func(a apiCall) (*client.RunList, error) { return a.c.Runs.List(a.ctx, rf) },
			func(a apiCall, page *client.RunList) error { return env.printRuns(a, page, &rf) })}
	list.Flags().StringVar(&rf.JobID, "job", "", "only runs of this job")
	list.Flags().StringVar(&rf.Status, "status", "", "statuses, comma-separated")
	list.Flags().StringVar(&rf.Trigger, "trigger", "", "cron, manual, retry or api")
	list.Flags().IntVar(&rf.Limit, "limit", 50, "page size (max 500)")

	action := func(use, short string, do func(*client.Client, context.Context, string) (*connecthub.Run, error)) *cobra.Command {
		return &cobra.Command{Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: apiCmd(env, &cf, func(a apiCall) (*connecthub.Run, error) { return do(a.c, a.ctx, a.args[0]) }, env.printRun)}
	}
	get := action("get", "Show a run", (*client.Client).GetRun)
	retry := action("retry", "Retry a finished run from its snapshot", (*client.Client).RetryRun)
	cancel := action("cancel", "Cancel a queued or running run", (*client.Client).CancelRun)
	var follow bool
	logs := &cobra.Command{
		Use: "logs ID", Short: "Print a run's log; -f follows it until the run ends", Args: cobra.ExactArgs(1),
		RunE: clientRun(env, &cf, func(a apiCall) error {
			if follow {
				return followRun(a.ctx, env, a.c, a.args[0])
			}
			r, err := a.c.GetRun(a.ctx, a.args[0])
			if err != nil {
				return err
			}
			text, _, err := a.c.RunLog(a.ctx, a.args[0])
			if err != nil {
				return err
			}
			if text == "" {
				fmt.Fprintf(env.Stderr, "run %s has no log lines (status %s)\n", r.ID, r.Status)
				return nil
			}
			_, err = io.WriteString(env.Stdout, timefmt.LogLines(text, newZones(env, a.c).of(a.ctx, r.JobID)))
			return err
		}),
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the run ends (exit 1 unless SUCCESS)")
	cmd.AddCommand(list, get, retry, cancel, logs)
	return cmd
}
