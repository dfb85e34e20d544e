package cli

// How jobs and runs read in a terminal.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/timefmt"
)

// printJobs prints a page of `job list`, or says why it is empty and
// what to do about it.
func (env *Env) printJobs(page *client.JobList, f *client.JobFilter) error {
	if len(page.Jobs) == 0 {
		if f.Query != "" || f.Handler != "" || f.Enabled != "" {
			return say(env, "no jobs match these filters")
		}
		return say(env, "no jobs yet: create one with `connecthub job create --id ID --handler NAME` (see `connecthub job create --help`)")
	}
	return table(env, page.Jobs, "", "ID\tENABLED\tHANDLER\tCRON\tTIMEZONE\tNEXT RUN\tLAST RUN", func(j connecthub.Job) []any {
		last := "-"
		if j.LastRun != nil {
			last = string(j.LastRun.Status)
		}
		return []any{j.ID, j.Enabled, j.Handler, dash(j.CronExpr), j.Timezone, fmtTime(env, j.NextRunAt, j.Timezone), last}
	})
}

// printSavedJob prints a saved job and, for people, its warnings on stderr
// (scripts find them in the JSON).
func (env *Env) printSavedJob(a apiCall, j *client.SavedJob) error {
	for _, w := range j.Warnings {
		fmt.Fprintf(env.Stderr, "warning: %s\n", w.Message)
	}
	return env.printJob(a, &j.Job)
}

func (env *Env) printJob(_ apiCall, j *connecthub.Job) error {
	return details(env, func(row func(k, v string)) {
		row("id", j.ID)
		row("description", dash(j.Description))
		row("enabled", strconv.FormatBool(j.Enabled))
		row("handler", j.Handler)
		row("cron", dash(j.CronExpr))
		row("timezone", j.Timezone)
		if j.Calendar != "" {
			row("calendar", j.Calendar+" ("+j.CalendarMode+")")
		}
		if j.HasChains() {
			row("on success", dash(strings.Join(j.OnSuccess, ", ")))
			row("on failure", dash(strings.Join(j.OnFailure, ", ")))
		}
		row("next run", fmtTime(env, j.NextRunAt, j.Timezone))
		row("last run", fmtTime(env, j.LastRunAt, j.Timezone))
		last := "-"
		if r := j.LastRun; r != nil {
			last = fmt.Sprintf("%s %s (%s) finished %s", r.ID, r.Status, r.Trigger, fmtTime(env, r.FinishedAt, j.Timezone))
		}
		row("last finished run", last)
		if d := j.Durations; d != nil {
			if d.Runs == 0 {
				row("durations", "- (no successful run yet)")
			} else {
				row("durations", fmt.Sprintf("median %s, p95 %s (last %d successful runs)", d.Median, d.P95, d.Runs))
			}
		}
		row("public_cfg", string(j.PublicCfg))
		row("secret keys", dash(strings.Join(j.SecretKeys, ", ")))
		timeout := j.Timeout.String()
		if j.Timeout == 0 {
			timeout = "0s (no timeout)" // what a zero timeout means, rather than a bare "0s"
		}
		row("timeout", timeout)
		row("max attempts", strconv.Itoa(j.MaxAttempts))
		row("retry backoff", j.RetryBackoff.String())
		row("concurrency", j.Concurrency)
		row("misfire", fmt.Sprintf("%s (window %s)", j.Misfire, j.MisfireWindow))
		row("queue", fmt.Sprintf("%s (priority %d)", j.Queue, j.Priority))
	})
}

// printRuns prints a page of `run list`, each run's time in its job's
// timezone, or says why it is empty and what to do about it.
func (env *Env) printRuns(a apiCall, page *client.RunList, f *client.RunFilter) error {
	if len(page.Runs) == 0 {
		switch {
		case f.Status != "" || f.Trigger != "":
			return say(env, "no runs match these filters")
		case f.JobID != "":
			return say(env, "job %s has no runs yet: start one with `connecthub job run %s -f`", f.JobID, f.JobID)
		}
		return say(env, "no runs yet: start one with `connecthub job run ID -f`")
	}
	zones := newZones(env, a.c)
	return table(env, page.Runs, "", "ID\tJOB\tSTATUS\tTRIGGER\tATTEMPT\tSCHEDULED FOR\tDURATION\tERROR", func(r connecthub.Run) []any {
		return []any{r.ID, r.JobID, r.Status, r.Trigger, fmt.Sprintf("%d/%d", r.Attempt, r.MaxAttempts),
			timefmt.Human(r.ScheduledFor, zones.of(a.ctx, r.JobID)), fmtDuration(r.Duration), truncate(oneLine(r.Error), 60)}
	})
}

// printRun shows a run, its times in its job's timezone.
func (env *Env) printRun(a apiCall, r *connecthub.Run) error {
	loc := newZones(env, a.c).of(a.ctx, r.JobID)
	err := details(env, func(row func(k, v string)) {
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
	})
	if err != nil {
		return err
	}
	if r.Traceback != "" {
		fmt.Fprintf(env.Stdout, "traceback:\n%s\n", r.Traceback)
	}
	return nil
}
