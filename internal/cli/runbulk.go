package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
)

// newRunsCmd is `connecthub runs retry|cancel|delete`: one action on every
// run a filter selects. Without --yes it only shows what would happen.
func newRunsCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Retry, cancel or delete every run a filter selects",
		Long: "Each command selects runs like `connecthub run list` (--job, --status, --trigger, --since, --until)\n" +
			"or by --id, shows what it would do to each, and does it only with --yes. A selection of more than\n" +
			fmt.Sprintf("%d runs is refused: narrow the filter. Deleting needs the admin role; only finished runs are deleted.", connecthub.MaxBulkRuns),
	}
	cf.register(cmd)
	for _, a := range []struct{ action, short string }{
		{connecthub.BulkRetry, "Retry the finished runs a filter selects (each from its snapshot)"},
		{connecthub.BulkCancel, "Cancel the queued and running runs a filter selects"},
		{connecthub.BulkDelete, "Delete the finished runs a filter selects"},
	} {
		cmd.AddCommand(newRunsActionCmd(env, &cf, a.action, a.short))
	}
	return cmd
}

func newRunsActionCmd(env *Env, cf *clientFlags, action, short string) *cobra.Command {
	var (
		f            connecthub.BulkRunFilter
		status       string
		since, until string
		ids          []string
		yes          bool
	)
	cmd := &cobra.Command{
		Use: action, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.Status = connecthub.ParseRunStatuses(status)
			for _, t := range []struct {
				flag, v string
				dst     **time.Time
			}{{"since", since, &f.Since}, {"until", until, &f.Until}} {
				if t.v == "" {
					continue
				}
				v, err := time.Parse(time.RFC3339, t.v)
				if err != nil {
					return usageError("--%s must be an RFC 3339 time like 2026-01-02T15:04:05+08:00", t.flag)
				}
				*t.dst = &v
			}
			if f.Empty() && len(ids) == 0 {
				return usageError("select runs with --job, --status, --trigger, --since, --until or --id")
			}
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			req := connecthub.BulkRunRequest{Filter: f, IDs: ids, DryRun: true}
			preview, err := c.Runs.Bulk(cmd.Context(), action, req)
			if err != nil {
				return err
			}
			if !yes {
				if err := printBulk(env, cf.asJSON, preview); err != nil || preview.OK == 0 {
					return err
				}
				return usageError("nothing done: add --yes to %s these %d runs", action, preview.OK)
			}
			req.DryRun, req.Expect = false, &preview.Matched
			res, err := c.Runs.Bulk(cmd.Context(), action, req)
			if err != nil {
				return err
			}
			if err := printBulk(env, cf.asJSON, res); err != nil || res.Complete {
				return err
			}
			return fmt.Errorf("%s", res.Stopped)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.JobID, "job", "", "only runs of this job")
	fl.StringVar(&status, "status", "", "statuses, comma-separated (FAILURE,CANCELED)")
	fl.StringVar((*string)(&f.Trigger), "trigger", "", "cron, manual, retry or api")
	fl.StringVar(&since, "since", "", "runs created at or after this RFC 3339 time")
	fl.StringVar(&until, "until", "", "runs created before this RFC 3339 time")
	fl.StringSliceVar(&ids, "id", nil, "run ids instead of a filter (repeat or comma-separate)")
	fl.BoolVarP(&yes, "yes", "y", false, "do it (without: show what would happen)")
	return cmd
}

// printBulk prints a bulk result: as JSON, or a summary line, then the
// runs skipped with their reasons (the ones done are the rest).
func printBulk(env *Env, asJSON bool, r *connecthub.BulkRunResult) error {
	if asJSON {
		return writeJSONOut(env, r)
	}
	verb := map[string]string{connecthub.BulkRetry: "retried", connecthub.BulkCancel: "canceled", connecthub.BulkDelete: "deleted"}[r.Action]
	if r.DryRun {
		verb = "would be " + verb
	}
	fmt.Fprintf(env.Stdout, "%d runs selected: %d %s, %d skipped\n", r.Matched, r.OK, verb, r.Skipped)
	if r.Skipped > 0 {
		var skipped []connecthub.BulkRunOutcome
		for _, o := range r.Outcomes {
			if o.Outcome != connecthub.BulkOK {
				skipped = append(skipped, o)
			}
		}
		_ = table(env, skipped, "", "SKIPPED RUN\tJOB\tSTATUS\tREASON", func(o connecthub.BulkRunOutcome) []any { return []any{o.RunID, o.JobID, o.Status, o.Reason} })
	}
	if r.Stopped != "" {
		fmt.Fprintln(env.Stderr, r.Stopped)
	}
	return nil
}
