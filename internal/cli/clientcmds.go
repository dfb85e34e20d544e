package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/timefmt"
)

// clientFlags locate the server for client commands.
type clientFlags struct {
	server, token string
	asJSON        bool
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.server, "server", "", "server URL (CONNECTHUB_SERVER_URL, default http://127.0.0.1:8000)")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "API token (CONNECTHUB_ADMIN_TOKEN, else ./data/admin.token)")
	cmd.PersistentFlags().BoolVar(&f.asJSON, "json", false, "print JSON for scripts")
}

// client builds an API client. Without --token or CONNECTHUB_ADMIN_TOKEN it
// reads the token a local server generated, so `connecthub job list` just
// works next to `connecthub serve`.
func (f *clientFlags) client(env *Env) (*client.Client, error) {
	server := firstNonEmpty(f.server, env.Getenv("CONNECTHUB_SERVER_URL"), "http://127.0.0.1:8000")
	token := firstNonEmpty(f.token, env.Getenv("CONNECTHUB_ADMIN_TOKEN"))
	if token == "" {
		dir := firstNonEmpty(env.Getenv("CONNECTHUB_DATA_DIR"), "./data")
		b, err := os.ReadFile(filepath.Join(dir, "admin.token"))
		if err != nil {
			return nil, usageError("no API token: pass --token, set CONNECTHUB_ADMIN_TOKEN, or run next to the server's %s", filepath.Join(dir, "admin.token"))
		}
		token = strings.TrimSpace(string(b))
	}
	return client.New(server, token, nil)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func newJobCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "job", Short: "Manage jobs through the API"}
	cf.register(cmd)

	var q, handlerName, enabled string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List jobs", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			query := url.Values{"limit": {strconv.Itoa(limit)}}
			setIf(query, "q", q)
			setIf(query, "handler", handlerName)
			setIf(query, "enabled", enabled)
			page, err := c.ListJobs(cmd.Context(), query)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, page)
			}
			if len(page.Jobs) == 0 {
				if q != "" || handlerName != "" || enabled != "" {
					fmt.Fprintln(env.Stdout, "no jobs match these filters")
				} else {
					fmt.Fprintln(env.Stdout, "no jobs yet: create one with `connecthub job create --id ID --handler NAME` (see `connecthub job create --help`)")
				}
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tENABLED\tHANDLER\tCRON\tTIMEZONE\tNEXT RUN\tLAST RUN")
			for _, j := range page.Jobs {
				fmt.Fprintf(tw, "%s\t%t\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Enabled, j.Handler, dash(j.CronExpr), j.Timezone, fmtTime(env, j.NextRunAt, j.Timezone), lastRunCell(&j))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&q, "q", "", "search id and description")
	list.Flags().StringVar(&handlerName, "handler", "", "only this handler")
	list.Flags().StringVar(&enabled, "enabled", "", "true or false")
	list.Flags().IntVar(&limit, "limit", 50, "page size (max 500)")

	get := &cobra.Command{
		Use: "get ID", Short: "Show a job", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			j, err := c.GetJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJob(env, j, cf.asJSON)
		},
	}

	var jf jobFlags
	create := &cobra.Command{
		Use:   "create [--file job.json | --id ID --handler NAME ...]",
		Short: "Create a job from a JSON file (- for stdin) or from flags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := jf.body(cmd, env, true)
			if err != nil {
				return err
			}
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			j, err := c.CreateJob(cmd.Context(), body)
			if err != nil {
				return err
			}
			return printSavedJob(env, j, cf.asJSON)
		},
	}
	jf.register(create, true)

	var uf jobFlags
	update := &cobra.Command{
		Use:   "update ID [--file patch.json | flags]",
		Short: "Change some fields of a job",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := uf.body(cmd, env, false)
			if err != nil {
				return err
			}
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			j, err := c.UpdateJob(cmd.Context(), args[0], body)
			if err != nil {
				return err
			}
			return printSavedJob(env, j, cf.asJSON)
		},
	}
	uf.register(update, false)

	var follow bool
	var paramPairs []string
	var paramsFile string
	run := &cobra.Command{
		Use: "run ID", Short: "Run a job now", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			params, err := runParams(env, paramsFile, paramPairs)
			if err != nil {
				return err
			}
			var r *connecthub.Run
			if params == nil {
				r, err = c.RunJob(cmd.Context(), args[0])
			} else {
				r, err = c.RunJobWith(cmd.Context(), args[0], params)
			}
			if err != nil {
				return err
			}
			if !follow {
				return printRun(cmd.Context(), env, c, r, cf.asJSON)
			}
			return followRun(cmd, env, c, r.ID)
		},
	}
	run.Flags().BoolVarP(&follow, "follow", "f", false, "follow the run's log until it ends (exit 1 unless SUCCESS)")
	run.Flags().StringArrayVar(&paramPairs, "param", nil, "a parameter for this run only, key=value (JSON values allowed); repeatable")
	run.Flags().StringVar(&paramsFile, "params-file", "", "parameters for this run only from a JSON object file (- for stdin)")

	toggle := func(use string, on bool) *cobra.Command {
		return &cobra.Command{
			Use: use + " ID", Short: strings.ToUpper(use[:1]) + use[1:] + " a job", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := cf.client(env)
				if err != nil {
					return err
				}
				j, err := c.SetJobEnabled(cmd.Context(), args[0], on)
				if err != nil {
					return err
				}
				return printJob(env, j, cf.asJSON)
			},
		}
	}
	var yes bool
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete a job and all its runs", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usageError("deleting job %s also deletes all its runs: add --yes to confirm", args[0])
			}
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			if err := c.DeleteJob(cmd.Context(), args[0]); err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, map[string]any{"deleted": args[0]})
			}
			fmt.Fprintf(env.Stdout, "deleted job %s\n", args[0])
			return nil
		},
	}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "confirm")
	cmd.AddCommand(list, get, create, update, run, toggle("enable", true), toggle("disable", false), del)
	addRevisionCmds(cmd, &cf, env)
	return cmd
}

// jobFlags build a job body from flags or a file.
type jobFlags struct {
	file, id, description, cronExpr, tz, handler, config, secret, timeout, concurrency, misfire, queue string
	retryBackoff, misfireWindow                                                                        string
	maxAttempts, priority                                                                              int
	disabled                                                                                           bool
	calendar, calendarMode, onSuccess, onFailure                                                       string
	keepRuns                                                                                           int
	keepFor                                                                                            string
}

// register declares the job's fields as flags. On create a flag shows the
// default the server applies when it is left out; on update a flag left out
// keeps the job's current value, so no default is shown.
func (f *jobFlags) register(cmd *cobra.Command, create bool) {
	fl := cmd.Flags()
	def := func(v string) string {
		if create {
			return v
		}
		return ""
	}
	fl.StringVarP(&f.file, "file", "f", "", "JSON body from a file, - for stdin (the field flags are then ignored)")
	if create {
		fl.StringVar(&f.id, "id", "", "job id: 1-128 characters of A-Z a-z 0-9 . _ : - (required without --file)")
		fl.BoolVar(&f.disabled, "disabled", false, "create the job disabled")
	}
	fl.StringVar(&f.description, "description", "", "description")
	fl.StringVar(&f.cronExpr, "cron", "", `cron expression, e.g. "0 2 * * *" (none: the job runs only when asked)`)
	fl.StringVar(&f.tz, "tz", "", "IANA timezone of the cron expression (default the server's CONNECTHUB_TIMEZONE)")
	fl.StringVar(&f.handler, "handler", "", "handler name, e.g. noop, sleep, httpcall (GET /api/v1/handlers lists them)")
	fl.StringVar(&f.config, "config", "", "public_cfg as a JSON object")
	fl.StringVar(&f.secret, "secret", "", "secret_cfg as a JSON object (write-only, encrypted, never shown)")
	fl.StringVar(&f.timeout, "timeout", def("0s"), `longest a run may take, e.g. "5m"; 0s = no timeout`)
	fl.IntVar(&f.maxAttempts, "max-attempts", defInt(create, 1), "attempts before the run fails (1 = no retry)")
	fl.StringVar(&f.retryBackoff, "retry-backoff", def(connecthub.DefaultRetryBackoff.String()), `wait before the 2nd attempt, doubling each time up to 1h, e.g. "30s"`)
	fl.StringVar(&f.concurrency, "concurrency", def(connecthub.ConcurrencyForbid), "when a slot fires while a run is active: forbid (skip it), allow or replace")
	fl.StringVar(&f.misfire, "misfire", def(connecthub.MisfireOnce), "slots missed while no scheduler ran: skip, once (the latest) or all")
	fl.StringVar(&f.misfireWindow, "misfire-window", def(connecthub.DefaultMisfireWindow.String()), `how old a missed slot may be and still fire, e.g. "1h"`)
	fl.StringVar(&f.queue, "queue", def(connecthub.DefaultQueue), "queue whose workers run it")
	fl.IntVar(&f.priority, "priority", 0, "priority within the queue (higher first)")
	fl.StringVar(&f.calendar, "calendar", "", `working-day calendar, e.g. "cn" ("" for none)`)
	fl.StringVar(&f.calendarMode, "calendar-mode", "", "workdays (default with a calendar) or skip_holidays")
	fl.StringVar(&f.onSuccess, "on-success", "", `jobs to start when a run succeeds, comma-separated ("" for none)`)
	fl.StringVar(&f.onFailure, "on-failure", "", `jobs to start when a run fails for good, comma-separated ("" for none)`)
	fl.IntVar(&f.keepRuns, "keep-runs", 0, "keep at most this many finished runs, the newest (0 = no count limit)")
	fl.StringVar(&f.keepFor, "keep-for", "", `delete finished runs older than this, e.g. "30d" or "720h" ("" or 0 = the server's CONNECTHUB_RUN_RETENTION)`)
}

// defInt is an integer flag's default: shown on create, zero on update.
func defInt(create bool, v int) int {
	if create {
		return v
	}
	return 0
}

func (f *jobFlags) body(cmd *cobra.Command, env *Env, create bool) (json.RawMessage, error) {
	if f.file != "" {
		return readJSONFile(env, f.file)
	}
	m := map[string]any{}
	changed := cmd.Flags().Changed
	set := func(flag, key string, v any) {
		if changed(flag) {
			m[key] = v
		}
	}
	set("id", "id", f.id)
	set("description", "description", f.description)
	set("cron", "cron_expr", f.cronExpr)
	set("tz", "timezone", f.tz)
	set("handler", "handler", f.handler)
	set("timeout", "timeout", f.timeout)
	set("max-attempts", "max_attempts", f.maxAttempts)
	set("concurrency", "concurrency", f.concurrency)
	set("misfire", "misfire", f.misfire)
	set("misfire-window", "misfire_window", f.misfireWindow)
	set("retry-backoff", "retry_backoff", f.retryBackoff)
	set("queue", "queue", f.queue)
	set("priority", "priority", f.priority)
	set("calendar", "calendar", f.calendar)
	set("calendar-mode", "calendar_mode", f.calendarMode)
	set("on-success", "on_success", connecthub.SplitChainList(f.onSuccess))
	set("on-failure", "on_failure", connecthub.SplitChainList(f.onFailure))
	if f.disabled {
		m["enabled"] = false
	}
	if err := f.retention(changed, m); err != nil {
		return nil, err
	}
	for flag, key := range map[string]string{"config": "public_cfg", "secret": "secret_cfg"} {
		if !changed(flag) {
			continue
		}
		v := f.config
		if flag == "secret" {
			v = f.secret
		}
		if !json.Valid([]byte(v)) {
			return nil, usageError("--%s: not valid JSON", flag)
		}
		m[key] = json.RawMessage(v)
	}
	if create && (m["id"] == nil || m["handler"] == nil) {
		return nil, usageError("give --file, or at least --id and --handler")
	}
	if len(m) == 0 {
		return nil, usageError("nothing to change: give --file or some field flags")
	}
	return json.Marshal(m)
}

// retention checks --keep-runs and --keep-for here, so that a bad value
// is a usage error naming the flag rather than the API's field name.
func (f *jobFlags) retention(changed func(string) bool, m map[string]any) error {
	if changed("keep-runs") {
		if f.keepRuns < 0 || f.keepRuns > connecthub.MaxKeepRuns {
			return usageError("--keep-runs must be between 0 (no count limit) and %d, got %d", connecthub.MaxKeepRuns, f.keepRuns)
		}
		m["keep_runs"] = f.keepRuns
	}
	if changed("keep-for") {
		if _, err := connecthub.ParseKeepFor(f.keepFor); err != nil {
			return usageError("--keep-for: %v", err)
		}
		m["keep_for"] = f.keepFor
	}
	return nil
}

// printSavedJob prints a saved job and, for people, its warnings on stderr
// (scripts find them in the JSON).
func printSavedJob(env *Env, j *client.SavedJob, asJSON bool) error {
	if asJSON {
		return writeJSONOut(env, j)
	}
	for _, w := range j.Warnings {
		fmt.Fprintf(env.Stderr, "warning: %s\n", w.Message)
	}
	return printJob(env, &j.Job, false)
}

func printJob(env *Env, j *connecthub.Job, asJSON bool) error {
	if asJSON {
		return writeJSONOut(env, j)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("id", j.ID)
	row("description", dash(j.Description))
	row("enabled", strconv.FormatBool(j.Enabled))
	row("handler", j.Handler)
	row("cron", dash(j.CronExpr))
	row("timezone", j.Timezone)
	if j.Calendar != "" {
		row("calendar", j.Calendar+" ("+j.CalendarMode+")")
	}
	printChains(row, j)
	row("next run", fmtTime(env, j.NextRunAt, j.Timezone))
	row("last run", fmtTime(env, j.LastRunAt, j.Timezone))
	row("last finished run", lastRunLine(env, j))
	if j.Durations != nil {
		row("durations", durationsLine(j.Durations))
	}
	row("public_cfg", string(j.PublicCfg))
	row("secret keys", dash(strings.Join(j.SecretKeys, ", ")))
	row("timeout", fmtTimeout(j.Timeout))
	row("max attempts", strconv.Itoa(j.MaxAttempts))
	row("retry backoff", j.RetryBackoff.String())
	row("concurrency", j.Concurrency)
	row("misfire", fmt.Sprintf("%s (window %s)", j.Misfire, j.MisfireWindow))
	row("queue", fmt.Sprintf("%s (priority %d)", j.Queue, j.Priority))
	return tw.Flush()
}

// printRun shows a run, its times in its job's timezone.
func printRun(ctx context.Context, env *Env, c *client.Client, r *connecthub.Run, asJSON bool) error {
	if asJSON {
		return writeJSONOut(env, r)
	}
	loc := newZones(env, c).of(ctx, r.JobID)
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("id", r.ID)
	row("job", r.JobID)
	row("status", string(r.Status))
	row("trigger", string(r.Trigger))
	row("scheduled for", dash(timefmt.Human(r.ScheduledFor, loc)))
	row("attempt", fmt.Sprintf("%d/%d", r.Attempt, r.MaxAttempts))
	row("node", dash(r.Node))
	row("started", dash(timefmt.Ptr(r.StartedAt, loc)))
	row("finished", dash(timefmt.Ptr(r.FinishedAt, loc)))
	row("duration", fmtDuration(r.Duration))
	row("message", dash(r.Message))
	row("error", dash(r.Error))
	if meta, err := connecthub.DecodeRunMeta(r.Meta); err == nil && meta.ImportedFrom != nil {
		row("imported from", meta.ImportedFrom.String())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Traceback != "" {
		fmt.Fprintf(env.Stdout, "traceback:\n%s\n", r.Traceback)
	}
	return nil
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtDuration(d *connecthub.Duration) string {
	if d == nil {
		return "-"
	}
	return d.D().Round(time.Millisecond).String()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// emptyRuns says why a runs table is empty and what to do about it.
func emptyRuns(jobID, status, trigger string) string {
	if status != "" || trigger != "" {
		return "no runs match these filters"
	}
	if jobID != "" {
		return fmt.Sprintf("job %s has no runs yet: start one with `connecthub job run %s -f`", jobID, jobID)
	}
	return "no runs yet: start one with `connecthub job run ID -f`"
}

// fmtTimeout says what a zero timeout means rather than printing "0s".
func fmtTimeout(d connecthub.Duration) string {
	if d == 0 {
		return "0s (no timeout)"
	}
	return d.String()
}

// readJSONFile reads a request body given as --file: a path, or - for
// stdin. It must be JSON.
func readJSONFile(env *Env, file string) (json.RawMessage, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(env.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, usageError("--file: %v", err)
	}
	if !json.Valid(data) {
		return nil, usageError("--file %s: not valid JSON", file)
	}
	return data, nil
}
