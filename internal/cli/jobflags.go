package cli

import (
	"encoding/json"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
)

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
