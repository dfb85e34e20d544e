package connecthub

import (
	"bytes"
	"encoding/json"
	"regexp"
	"time"
)

// Concurrency policies decide what a cron slot does when the job still has a
// QUEUED or RUNNING run.
const (
	ConcurrencyForbid  = "forbid"  // record a SKIPPED run instead of a second one
	ConcurrencyAllow   = "allow"   // start another run alongside
	ConcurrencyReplace = "replace" // cancel the active runs, then start the new one
)

// Misfire policies decide what a scheduler that was down does with the slots
// it missed.
const (
	MisfireSkip = "skip" // fire nothing for missed slots; wait for the next one
	MisfireOnce = "once" // fire the latest missed slot once
	MisfireAll  = "all"  // fire every missed slot (within the misfire window)
)

// Defaults of a job's fields, used when a job input leaves them out. They
// are part of the API's contract (docs/api.md), so they change only with it.
const (
	DefaultQueue         = "default"
	DefaultMisfireWindow = Duration(time.Hour)
	DefaultRetryBackoff  = Duration(10 * time.Second)
	// MaxRetryBackoff caps the exponential back-off between attempts.
	MaxRetryBackoff = time.Hour
)

// Job is the definition of an integration job: what to run (handler and its
// configuration), when (cron in a timezone), and how (timeout, retries,
// concurrency, queue). Its encrypted secrets never leave the server: JSON
// shows only SecretKeys and HasSecret.
type Job struct {
	ID            string          `json:"id"`
	Description   string          `json:"description"`
	Enabled       bool            `json:"enabled"`
	CronExpr      string          `json:"cron_expr"`
	Timezone      string          `json:"timezone"`
	Handler       string          `json:"handler"`
	PublicCfg     json.RawMessage `json:"public_cfg"`
	SecretKeys    []string        `json:"secret_keys"`
	HasSecret     bool            `json:"has_secret"`
	Timeout       Duration        `json:"timeout"`
	MaxAttempts   int             `json:"max_attempts"`
	RetryBackoff  Duration        `json:"retry_backoff"`
	Concurrency   string          `json:"concurrency"`
	Misfire       string          `json:"misfire"`
	MisfireWindow Duration        `json:"misfire_window"`
	Queue         string          `json:"queue"`
	Priority      int             `json:"priority"`
	// Calendar names a working-day calendar ("" for none); CalendarMode
	// says how it applies (calendar.ModeWorkdays or ModeSkipHolidays).
	Calendar     string     `json:"calendar"`
	CalendarMode string     `json:"calendar_mode"`
	LastRunAt    *time.Time `json:"last_run_at"`
	NextRunAt    *time.Time `json:"next_run_at"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`

	// KeepRuns keeps at most this many finished runs of the job (0: no
	// count limit); KeepFor deletes finished runs older than it (0: the
	// server's CONNECTHUB_RUN_RETENTION). See retention.go.
	KeepRuns int      `json:"keep_runs"`
	KeepFor  Duration `json:"keep_for"`

	// LastRun is the job's newest finished run, nil when it has none; and
	// Durations, the durations of its last successful runs. The store does
	// not keep them with the job: the service fills them in where a reader
	// shows them (LastRun in lists and single jobs, Durations in single
	// jobs), each from an index, never from the job's history.
	LastRun   *RunSummary    `json:"last_run"`
	Durations *DurationStats `json:"durations,omitempty"`

	// OnSuccess and OnFailure are the jobs a run of this job starts when
	// it ends SUCCESS, or FAILURE after its last attempt (trigger chain;
	// see chain.go). Never nil.
	OnSuccess []string `json:"on_success"`
	OnFailure []string `json:"on_failure"`

	// SecretCfg is the Fernet token of the secret_cfg object, or "". It is
	// stored as is and never marshalled.
	SecretCfg string `json:"-"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// ValidateID checks a job id: 1–128 characters of [A-Za-z0-9._:-].
func ValidateID(id string) error {
	if id == "" {
		return FieldError("id", "", "id is required")
	}
	if !idPattern.MatchString(id) {
		return FieldError("id", "", "id must be 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	return nil
}

// IsJSONObject reports whether raw is a JSON object ("{...}").
func IsJSONObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil
}
