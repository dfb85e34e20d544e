package cli

// The job commands: list, show, create, change, run and delete jobs, and
// their revisions.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
)

func newJobCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := cf.group("job", "Manage jobs through the API")

	var jf client.JobFilter
	list := &cobra.Command{Use: "list", Short: "List jobs", Args: cobra.NoArgs,
		RunE: apiCmd(env, &cf, func(a apiCall) (*client.JobList, error) { return a.c.Jobs.List(a.ctx, jf) },
			func(_ apiCall, page *client.JobList) error { return env.printJobs(page, &jf) })}
	list.Flags().StringVar(&jf.Query, "q", "", "search id and description")
	list.Flags().StringVar(&jf.Handler, "handler", "", "only this handler")
	list.Flags().StringVar(&jf.Enabled, "enabled", "", "true or false")
	list.Flags().IntVar(&jf.Limit, "limit", 50, "page size (max 500)")

	get := oneCmd(env, &cf, "get ID", "Show a job", (*client.Client).GetJob, env.printJob)

	// save is create or update: the body from --file or the field flags
	// (a mistake in them is told before the server is asked), then call.
	save := func(cmd *cobra.Command, create bool, call func(a apiCall, body json.RawMessage) (*client.SavedJob, error)) *cobra.Command {
		var jf jobFlags
		var body json.RawMessage
		cmd.RunE = checked(func([]string) (err error) {
			body, err = jf.body(cmd, env, create)
			return err
		}, apiCmd(env, &cf, func(a apiCall) (*client.SavedJob, error) { return call(a, body) }, env.printSavedJob))
		jf.register(cmd, create)
		return cmd
	}
	create := save(&cobra.Command{Use: "create [--file job.json | --id ID --handler NAME ...]", Short: "Create a job from a JSON file (- for stdin) or from flags",
		Args: cobra.NoArgs}, true, func(a apiCall, body json.RawMessage) (*client.SavedJob, error) { return a.c.CreateJob(a.ctx, body) })
	update := save(&cobra.Command{Use: "update ID [--file patch.json | flags]", Short: "Change some fields of a job", Args: cobra.ExactArgs(1)},
		false, func(a apiCall, body json.RawMessage) (*client.SavedJob, error) {
			return a.c.UpdateJob(a.ctx, a.args[0], body)
		})

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
		return oneCmd(env, &cf, use+" ID", strings.ToUpper(use[:1])+use[1:]+" a job",
			func(c *client.Client, ctx context.Context, id string) (*connecthub.Job, error) {
				return c.SetJobEnabled(ctx, id, on)
			}, env.printJob)
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

// jobField is a job field that a flag of `job create` and `job update`
// sets: the flag, the API's field, the default the server applies when a
// create leaves it out (shown in --help; "" shows none) and the usage.
type jobField struct{ flag, key, def, usage string }

// jobFields are the string fields; jobIntFields the integer ones, whose
// default is the number's text. The values are checked in this order
// (--keep-runs, --keep-for, then --config and --secret).
var jobFields = []jobField{
	{"keep-for", "keep_for", "", `delete finished runs older than this, e.g. "30d" or "720h" ("" or 0 = the server's CONNECTHUB_RUN_RETENTION)`},
	{"description", "description", "", "description"},
	{"cron", "cron_expr", "", `cron expression, e.g. "0 2 * * *" (none: the job runs only when asked)`},
	{"tz", "timezone", "", "IANA timezone of the cron expression (default the server's CONNECTHUB_TIMEZONE)"},
	{"handler", "handler", "", "handler name, e.g. noop, sleep, httpcall (GET /api/v1/handlers lists them)"},
	{"config", "public_cfg", "", "public_cfg as a JSON object"},
	{"secret", "secret_cfg", "", "secret_cfg as a JSON object (write-only, encrypted, never shown)"},
	{"timeout", "timeout", "0s", `longest a run may take, e.g. "5m"; 0s = no timeout`},
	{"retry-backoff", "retry_backoff", connecthub.DefaultRetryBackoff.String(), `wait before the 2nd attempt, doubling each time up to 1h, e.g. "30s"`},
	{"concurrency", "concurrency", connecthub.ConcurrencyForbid, "when a slot fires while a run is active: forbid (skip it), allow or replace"},
	{"misfire", "misfire", connecthub.MisfireOnce, "slots missed while no scheduler ran: skip, once (the latest) or all"},
	{"misfire-window", "misfire_window", connecthub.DefaultMisfireWindow.String(), `how old a missed slot may be and still fire, e.g. "1h"`},
	{"queue", "queue", connecthub.DefaultQueue, "queue whose workers run it"},
	{"calendar", "calendar", "", `working-day calendar, e.g. "cn" ("" for none)`},
	{"calendar-mode", "calendar_mode", "", "workdays (default with a calendar) or skip_holidays"},
	{"on-success", "on_success", "", `jobs to start when a run succeeds, comma-separated ("" for none)`},
	{"on-failure", "on_failure", "", `jobs to start when a run fails for good, comma-separated ("" for none)`},
}

var jobIntFields = []jobField{
	{"max-attempts", "max_attempts", "1", "attempts before the run fails (1 = no retry)"},
	{"priority", "priority", "0", "priority within the queue (higher first)"},
	{"keep-runs", "keep_runs", "0", "keep at most this many finished runs, the newest (0 = no count limit)"},
}

// jobFlags build a job body from flags or a file.
type jobFlags struct {
	file, id string
	disabled bool
	str      map[string]*string
	num      map[string]*int
}

// register declares the job's fields as flags. On create a flag shows the
// default the server applies when it is left out; on update a flag left out
// keeps the job's current value, so no default is shown.
func (f *jobFlags) register(cmd *cobra.Command, create bool) {
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "JSON body from a file, - for stdin (the field flags are then ignored)")
	if create {
		fl.StringVar(&f.id, "id", "", "job id: 1-128 characters of A-Z a-z 0-9 . _ : - (required without --file)")
		fl.BoolVar(&f.disabled, "disabled", false, "create the job disabled")
	}
	f.str, f.num = map[string]*string{}, map[string]*int{}
	for _, fd := range jobFields {
		def := ""
		if create {
			def = fd.def
		}
		f.str[fd.flag] = fl.String(fd.flag, def, fd.usage)
	}
	for _, fd := range jobIntFields {
		def := 0
		if create {
			def, _ = strconv.Atoi(fd.def)
		}
		f.num[fd.flag] = fl.Int(fd.flag, def, fd.usage)
	}
}

func (f *jobFlags) body(cmd *cobra.Command, env *Env, create bool) (json.RawMessage, error) {
	if f.file != "" {
		return readJSONFile(env, f.file)
	}
	m := map[string]any{}
	changed := cmd.Flags().Changed
	if changed("id") {
		m["id"] = f.id
	}
	if f.disabled {
		m["enabled"] = false
	}
	for _, fd := range jobIntFields {
		if v := *f.num[fd.flag]; changed(fd.flag) {
			// --keep-runs is checked here, so that a bad value is a
			// usage error naming the flag rather than the API's field.
			if fd.flag == "keep-runs" && (v < 0 || v > connecthub.MaxKeepRuns) {
				return nil, usageError("--keep-runs must be between 0 (no count limit) and %d, got %d", connecthub.MaxKeepRuns, v)
			}
			m[fd.key] = v
		}
	}
	for _, fd := range jobFields {
		if !changed(fd.flag) {
			continue
		}
		v := *f.str[fd.flag]
		switch fd.flag {
		case "on-success", "on-failure":
			m[fd.key] = connecthub.SplitChainList(v)
			continue
		case "config", "secret":
			if !json.Valid([]byte(v)) {
				return nil, usageError("--%s: not valid JSON", fd.flag)
			}
			m[fd.key] = json.RawMessage(v)
			continue
		case "keep-for":
			if _, err := connecthub.ParseKeepFor(v); err != nil {
				return nil, usageError("--keep-for: %v", err)
			}
		}
		m[fd.key] = v
	}
	if create && (m["id"] == nil || m["handler"] == nil) {
		return nil, usageError("give --file, or at least --id and --handler")
	}
	if len(m) == 0 {
		return nil, usageError("nothing to change: give --file or some field flags")
	}
	return json.Marshal(m)
}

// runParams builds the params of `job run` from --params-file (- for
// stdin) and --param pairs, which win (connecthub.BuildRunParams); nothing
// given is nil: a plain run.
func runParams(env *Env, file string, pairs []string) (json.RawMessage, error) {
	if file == "" && len(pairs) == 0 {
		return nil, nil
	}
	var object []byte
	if file != "" {
		var err error
		if object, err = readFileArg(env, file); err != nil {
			return nil, usageError("--params-file: %v", err)
		}
	}
	params, err := connecthub.BuildRunParams(object, pairs)
	if errors.Is(err, connecthub.ErrParamsNotObject) {
		return nil, usageError("--params-file %s: not a JSON object", file)
	} else if err != nil {
		return nil, usageError("--param %v", err)
	}
	return params, nil
}

// addRevisionCmds adds the revision commands to `connecthub job`: list a
// job's revisions, diff two, restore one, and list deleted jobs.
func addRevisionCmds(job *cobra.Command, cf *clientFlags, env *Env) {
	var page, delPage client.Page
	revisions := &cobra.Command{
		Use: "revisions ID", Short: "List a job's revisions, newest first (a deleted job's too)", Args: cobra.ExactArgs(1),
		RunE: apiCmd(env, cf, func(a apiCall) (*client.RevisionList, error) { return a.c.Revisions.List(a.ctx, a.args[0], page) },
			func(_ apiCall, page *client.RevisionList) error {
				return tablePage(env, page.Revisions, page.NextCursor, "", "REV\tACTION\tACTOR\tAT\tSOURCE\tSECRET KEYS", func(r connecthub.Revision) []any {
					return []any{r.Revision, r.Action, r.Actor, fmtTime(env, &r.At, ""), dash(r.Source), dash(strings.Join(r.SecretKeys, ","))}
				})
			}),
	}
	pageFlags(revisions, &page)

	diff := &cobra.Command{
		Use: "diff ID A B", Short: "Show what changed between two revisions of a job, field by field", Args: cobra.ExactArgs(3),
		RunE: checked(func(args []string) error { return revisionArgs(args[1:], "A", "B") },
			apiCmd(env, cf, func(a apiCall) (*connecthub.RevisionDiff, error) {
				return a.c.DiffRevisions(a.ctx, a.args[0], revisionNumber(a.args[1]), revisionNumber(a.args[2]))
			}, func(a apiCall, d *connecthub.RevisionDiff) error {
				if len(d.Changes) == 0 {
					return say(env, "revisions %d and %d of %s do not differ", revisionNumber(a.args[1]), revisionNumber(a.args[2]), a.args[0])
				}
				for _, ch := range d.Changes {
					fmt.Fprintf(env.Stdout, "%s\n%s%s", ch.Field, diffLines("  - ", ch.Before), diffLines("  + ", ch.After))
				}
				return nil
			})),
	}

	restore := &cobra.Command{
		Use: "restore ID N", Short: "Make revision N the job's definition again, secrets included (re-creates a deleted job)",
		Args: cobra.ExactArgs(2),
		RunE: checked(func(args []string) error { return revisionArgs(args[1:], "N") },
			apiCmd(env, cf, func(a apiCall) (*client.SavedJob, error) {
				return a.c.RestoreRevision(a.ctx, a.args[0], revisionNumber(a.args[1]))
			}, func(a apiCall, j *client.SavedJob) error {
				fmt.Fprintf(env.Stdout, "restored job %s from revision %d\n", a.args[0], revisionNumber(a.args[1]))
				return env.printSavedJob(a, j)
			})),
	}

	deleted := &cobra.Command{
		Use: "deleted", Short: "List deleted jobs that can be restored from their revisions", Args: cobra.NoArgs,
		RunE: apiCmd(env, cf, func(a apiCall) (*client.DeletedJobList, error) { return a.c.Revisions.Deleted(a.ctx, delPage) },
			func(_ apiCall, page *client.DeletedJobList) error {
				return tablePage(env, page.Jobs, page.NextCursor, "no deleted jobs with revisions", "ID\tLAST REV\tACTION\tBY\tAT", func(d connecthub.DeletedJob) []any {
					return []any{d.JobID, d.Last.Revision, d.Last.Action, d.Last.Actor, fmtTime(env, &d.Last.At, "")}
				})
			}),
	}
	pageFlags(deleted, &delPage)
	job.AddCommand(revisions, diff, restore, deleted)
}

// pageFlags are --limit and --cursor of a paged list.
func pageFlags(cmd *cobra.Command, p *client.Page) {
	cmd.Flags().IntVar(&p.Limit, "limit", 50, "page size (max 500)")
	cmd.Flags().StringVar(&p.Cursor, "cursor", "", "the next_cursor of the previous page")
}

// revisionArgs checks revision number arguments, named as the usage line
// names them.
func revisionArgs(args []string, names ...string) error {
	for i, v := range args {
		if revisionNumber(v) < 1 {
			return usageError("%s must be a revision number (1 or more), not %q", names[i], v)
		}
	}
	return nil
}

// revisionNumber reads a revision number argument, 0 when it is none.
func revisionNumber(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// diffLines prefixes every line of a value ("" shows as nothing at all).
func diffLines(prefix, v string) string {
	if v == "" {
		return prefix + "(none)\n"
	}
	var b strings.Builder
	for line := range strings.SplitSeq(v, "\n") {
		b.WriteString(prefix + line + "\n")
	}
	return b.String()
}
