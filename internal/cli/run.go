package cli

// The run commands: inspect, retry and cancel runs, act on many at once
// (runs), and follow one to its end (-f).

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/timefmt"
)

func newRunCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := cf.group("run", "Inspect, retry and cancel runs through the API")

	var rf client.RunFilter
	list := &cobra.Command{Use: "list", Short: "List runs, newest first", Args: cobra.NoArgs,
		RunE: apiCmd(env, &cf, func(a apiCall) (*client.RunList, error) { return a.c.Runs.List(a.ctx, rf) },
			func(a apiCall, page *client.RunList) error { return env.printRuns(a, page, &rf) })}
	list.Flags().StringVar(&rf.JobID, "job", "", "only runs of this job")
	list.Flags().StringVar(&rf.Status, "status", "", "statuses, comma-separated")
	list.Flags().StringVar(&rf.Trigger, "trigger", "", "cron, manual, retry or api")
	list.Flags().IntVar(&rf.Limit, "limit", 50, "page size (max 500)")

	get := oneCmd(env, &cf, "get ID", "Show a run", (*client.Client).GetRun, env.printRun)
	retry := oneCmd(env, &cf, "retry ID", "Retry a finished run from its snapshot", (*client.Client).RetryRun, env.printRun)
	cancel := oneCmd(env, &cf, "cancel ID", "Cancel a queued or running run", (*client.Client).CancelRun, env.printRun)
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
				if v, err := timeFlag(t.flag, t.v); err != nil {
					return err
				} else if !v.IsZero() {
					*t.dst = &v
				}
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

// followRun tells a person what a run does while it does it: on stderr
// when and where it started, on stdout its log as it comes (times in the
// job's timezone), and at the end on stderr its status, message and error,
// which is what one needs to read a failure. It exits non-zero unless the
// run succeeded, so scripts can `connecthub job run X -f && next-step`.
func followRun(ctx context.Context, env *Env, c *client.Client, id string) error {
	var loc *time.Location
	final, err := c.Runs.Follow(ctx, id, client.RunFollow{
		Seen: func(r *connecthub.Run) io.Writer {
			if r.Status == connecthub.StatusQueued {
				fmt.Fprintf(env.Stderr, "run %s of job %s queued (%s), waiting for a worker…\n", r.ID, r.JobID, r.Trigger)
			}
			loc = newZones(env, c).of(ctx, r.JobID)
			return timefmt.LogWriter(env.Stdout, loc)
		},
		Started: func(r *connecthub.Run) {
			if r.Node != "" {
				fmt.Fprintf(env.Stderr, "run %s started on node %s (attempt %d/%d)\n", r.ID, r.Node, r.Attempt, r.MaxAttempts)
			}
		},
	})
	if err != nil {
		return err
	}
	printOutcome(env, final, loc)
	if final.Status != connecthub.StatusSuccess {
		// The outcome above already says it all; only the exit code is left.
		return &exitError{code: 1, err: fmt.Errorf("run %s ended %s", id, final.Status), silent: true}
	}
	return nil
}

// printOutcome writes the end of a followed run: one line with the status,
// then its message and error when it has them.
func printOutcome(env *Env, r *connecthub.Run, loc *time.Location) {
	line := fmt.Sprintf("run %s ended %s", r.ID, r.Status)
	if r.Duration != nil {
		line += " after " + fmtDuration(r.Duration)
	}
	if r.FinishedAt != nil {
		line += " at " + timefmt.Human(*r.FinishedAt, loc)
	}
	fmt.Fprintln(env.Stderr, line)
	if r.Message != "" {
		fmt.Fprintf(env.Stderr, "message: %s\n", r.Message)
	}
	if r.Error != "" {
		fmt.Fprintf(env.Stderr, "error: %s\n", r.Error)
	}
}

// zones finds the timezone of jobs, in which their runs' times show, asking
// the server at most once per job. A job that is gone falls back to the
// default timezone (CONNECTHUB_TIMEZONE, else the server's default).
type zones struct {
	c     *client.Client
	def   *time.Location
	cache map[string]*time.Location
}

func newZones(env *Env, c *client.Client) *zones {
	return &zones{c: c, def: defaultLocation(env), cache: map[string]*time.Location{}}
}

func (z *zones) of(ctx context.Context, jobID string) *time.Location {
	if loc, ok := z.cache[jobID]; ok {
		return loc
	}
	loc := z.def
	if j, err := z.c.GetJob(ctx, jobID); err == nil {
		loc = timefmt.Location(j.Timezone, z.def)
	}
	z.cache[jobID] = loc
	return loc
}

// defaultTimezone is the timezone of jobs that do not name one, as serve
// reads it.
func defaultTimezone(env *Env) string {
	return cmp.Or(env.Getenv("CONNECTHUB_TIMEZONE"), config.DefaultTimezone)
}

func defaultLocation(env *Env) *time.Location {
	return timefmt.Location(defaultTimezone(env), time.UTC)
}

// fmtTime shows an optional time in the timezone tz (the default one when
// tz is empty), "-" when there is none.
func fmtTime(env *Env, t *time.Time, tz string) string {
	return dash(timefmt.Ptr(t, timefmt.Location(tz, defaultLocation(env))))
}
