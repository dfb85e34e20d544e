package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
)

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
