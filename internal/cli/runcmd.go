package cli

// The run command: inspect, retry and cancel runs through the API.

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/timefmt"
)

func newRunCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "run", Short: "Inspect, retry and cancel runs through the API"}
	cf.register(cmd)

	var jobID, status, trigger string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List runs, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			query := url.Values{"limit": {strconv.Itoa(limit)}}
			setIf(query, "job_id", jobID)
			setIf(query, "status", status)
			setIf(query, "trigger", trigger)
			page, err := c.ListRuns(cmd.Context(), query)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, page)
			}
			if len(page.Runs) == 0 {
				fmt.Fprintln(env.Stdout, emptyRuns(jobID, status, trigger))
				return nil
			}
			zones := newZones(env, c)
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tJOB\tSTATUS\tTRIGGER\tATTEMPT\tSCHEDULED FOR\tDURATION\tERROR")
			for i := range page.Runs {
				r := &page.Runs[i]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", r.ID, r.JobID, r.Status, r.Trigger, r.Attempt, r.MaxAttempts,
					timefmt.Human(r.ScheduledFor, zones.of(cmd.Context(), r.JobID)), fmtDuration(r.Duration), truncate(oneLine(r.Error), 60))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&jobID, "job", "", "only runs of this job")
	list.Flags().StringVar(&status, "status", "", "statuses, comma-separated")
	list.Flags().StringVar(&trigger, "trigger", "", "cron, manual, retry or api")
	list.Flags().IntVar(&limit, "limit", 50, "page size (max 500)")

	get := &cobra.Command{
		Use: "get ID", Short: "Show a run", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			r, err := c.GetRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printRun(cmd.Context(), env, c, r, cf.asJSON)
		},
	}
	action := func(use, short string, do func(*client.Client, *cobra.Command, string) (*connecthub.Run, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := cf.client(env)
				if err != nil {
					return err
				}
				r, err := do(c, cmd, args[0])
				if err != nil {
					return err
				}
				return printRun(cmd.Context(), env, c, r, cf.asJSON)
			},
		}
	}
	retry := action("retry", "Retry a finished run from its snapshot", func(c *client.Client, cmd *cobra.Command, id string) (*connecthub.Run, error) {
		return c.RetryRun(cmd.Context(), id)
	})
	cancel := action("cancel", "Cancel a queued or running run", func(c *client.Client, cmd *cobra.Command, id string) (*connecthub.Run, error) {
		return c.CancelRun(cmd.Context(), id)
	})
	var follow bool
	logs := &cobra.Command{
		Use: "logs ID", Short: "Print a run's log; -f follows it until the run ends", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			if follow {
				return followRun(cmd, env, c, args[0])
			}
			r, err := c.GetRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			text, _, err := c.RunLog(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if text == "" {
				fmt.Fprintf(env.Stderr, "run %s has no log lines (status %s)\n", r.ID, r.Status)
				return nil
			}
			_, err = io.WriteString(env.Stdout, timefmt.LogLines(text, newZones(env, c).of(cmd.Context(), r.JobID)))
			return err
		},
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the run ends (exit 1 unless SUCCESS)")
	cmd.AddCommand(list, get, retry, cancel, logs)
	return cmd
}
