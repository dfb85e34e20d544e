package connecthub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/connecthub/connecthub/calendar"
	"github.com/connecthub/connecthub/cron"
)

// JobInput is the body of a job create or partial update. A nil field was
// absent from the request and leaves the job's value alone (on create it
// takes the default).
//
// SecretCfg is write-only, so that a client can send back a job it read
// (which never shows secrets) without erasing them: absent or JSON null means
// unchanged, {} clears the secrets, an object replaces them.
type JobInput struct {
	ID            *string
	Description   *string
	Enabled       *bool
	CronExpr      *string
	Timezone      *string
	Handler       *string
	PublicCfg     json.RawMessage
	SecretCfg     json.RawMessage
	Timeout       *Duration
	MaxAttempts   *int
	RetryBackoff  *Duration
	Concurrency   *string
	Misfire       *string
	MisfireWindow *Duration
	Queue         *string
	Priority      *int
	Calendar      *string
	CalendarMode  *string
	OnSuccess     *[]string
	OnFailure     *[]string
	KeepRuns      *int
	KeepFor       *Duration
}

// readOnlyJobFields are accepted and ignored on input, so a client may send
// back an object it read.
var readOnlyJobFields = map[string]bool{
	"secret_keys": true, "has_secret": true, "last_run_at": true, "next_run_at": true,
	"created_at": true, "updated_at": true, "last_status": true,
}

// DecodeJobInput parses a job create/update body. Every type error names its
// field; unknown fields are rejected so that typos do not pass silently.
func DecodeJobInput(body []byte) (*JobInput, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &Error{Kind: KindInvalid, Code: "invalid_body", Message: "request body must be a JSON object"}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, &Error{Kind: KindInvalid, Code: "invalid_body", Message: "request body must be a JSON object"}
	}
	in := &JobInput{}
	// Visit fields in a stable order so the first error reported does not
	// depend on map iteration.
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := fields[name]
		var err error
		switch name {
		case "id":
			in.ID, err = decodeString(name, raw)
		case "description":
			in.Description, err = decodeString(name, raw)
		case "enabled":
			in.Enabled, err = decodeField[bool](name, raw, "must be true or false")
		case "cron_expr":
			in.CronExpr, err = decodeString(name, raw)
		case "timezone":
			in.Timezone, err = decodeString(name, raw)
		case "handler":
			in.Handler, err = decodeString(name, raw)
		case "public_cfg":
			if !IsJSONObject(raw) {
				err = FieldError(name, "", "public_cfg must be a JSON object")
			}
			in.PublicCfg = raw
		case "secret_cfg":
			if !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) && !IsJSONObject(raw) {
				err = FieldError(name, "", "secret_cfg must be a JSON object")
			}
			in.SecretCfg = raw
		case "timeout":
			in.Timeout, err = decodeDuration(name, raw)
		case "max_attempts":
			in.MaxAttempts, err = decodeField[int](name, raw, "must be an integer")
		case "retry_backoff":
			in.RetryBackoff, err = decodeDuration(name, raw)
		case "concurrency":
			in.Concurrency, err = decodeString(name, raw)
		case "misfire":
			in.Misfire, err = decodeString(name, raw)
		case "misfire_window":
			in.MisfireWindow, err = decodeDuration(name, raw)
		case "queue":
			in.Queue, err = decodeString(name, raw)
		case "priority":
			in.Priority, err = decodeField[int](name, raw, "must be an integer")
		case "calendar":
			in.Calendar, err = decodeString(name, raw)
		case "calendar_mode":
			in.CalendarMode, err = decodeString(name, raw)
		case ChainSuccess:
			in.OnSuccess, err = decodeChainList(name, raw)
		case ChainFailure:
			in.OnFailure, err = decodeChainList(name, raw)
		case "keep_runs":
			in.KeepRuns, err = decodeField[int](name, raw, "must be an integer")
		case "keep_for":
			in.KeepFor, err = decodeKeepFor(raw)
		default:
			if !readOnlyJobFields[name] {
				err = FieldError(name, "unknown_field", "unknown field %q", name)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return in, nil
}

func decodeField[T any](name string, raw json.RawMessage, msg string) (*T, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, FieldError(name, "", "%s %s", name, msg)
	}
	return &v, nil
}

func decodeString(name string, raw json.RawMessage) (*string, error) {
	return decodeField[string](name, raw, "must be a string")
}

func decodeDuration(name string, raw json.RawMessage) (*Duration, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var d Duration
	if err := d.UnmarshalJSON(raw); err != nil {
		return nil, FieldError(name, "", "%s %s", name, err.Error())
	}
	return &d, nil
}

// JobDefaults are the server-wide defaults applied to a new job.
type JobDefaults struct {
	Timezone     string
	RetryBackoff Duration
}

// SecretChange says what an input does to a job's secrets.
type SecretChange struct {
	// Set is true when the secrets are replaced (or cleared, when Value is empty).
	Set   bool
	Value map[string]any
}

// NewJob builds a job from a create input: defaults first, then the input.
// It does not validate; call Validate.
func NewJob(in *JobInput, defaults JobDefaults, now time.Time) (*Job, SecretChange, error) {
	j := &Job{
		Enabled:       true,
		Timezone:      defaults.Timezone,
		PublicCfg:     json.RawMessage("{}"),
		MaxAttempts:   1,
		RetryBackoff:  defaults.RetryBackoff,
		Concurrency:   ConcurrencyForbid,
		Misfire:       MisfireOnce,
		MisfireWindow: DefaultMisfireWindow,
		Queue:         DefaultQueue,
		OnSuccess:     []string{},
		OnFailure:     []string{},
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if j.Timezone == "" {
		j.Timezone = "Asia/Shanghai"
	}
	if j.RetryBackoff == 0 {
		j.RetryBackoff = DefaultRetryBackoff
	}
	if in.ID == nil {
		return nil, SecretChange{}, FieldError("id", "", "id is required")
	}
	j.ID = *in.ID
	sc, err := in.ApplyTo(j, now)
	return j, sc, err
}

// ApplyTo copies the fields present in the input onto j and reports what
// happens to the secrets. It does not validate; call Validate.
func (in *JobInput) ApplyTo(j *Job, now time.Time) (SecretChange, error) {
	if in.ID != nil && *in.ID != j.ID {
		return SecretChange{}, FieldError("id", "", "id cannot be changed")
	}
	setStr := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	if in.Description != nil {
		j.Description = *in.Description
	}
	if in.Enabled != nil {
		j.Enabled = *in.Enabled
	}
	setStr(&j.CronExpr, in.CronExpr)
	setStr(&j.Timezone, in.Timezone)
	setStr(&j.Handler, in.Handler)
	if in.PublicCfg != nil {
		var buf bytes.Buffer
		if err := json.Compact(&buf, in.PublicCfg); err != nil {
			return SecretChange{}, FieldError("public_cfg", "", "public_cfg must be a JSON object")
		}
		j.PublicCfg = buf.Bytes()
	}
	if in.Timeout != nil {
		j.Timeout = *in.Timeout
	}
	if in.MaxAttempts != nil {
		j.MaxAttempts = *in.MaxAttempts
	}
	if in.RetryBackoff != nil {
		j.RetryBackoff = *in.RetryBackoff
	}
	setStr(&j.Concurrency, in.Concurrency)
	setStr(&j.Misfire, in.Misfire)
	if in.MisfireWindow != nil {
		j.MisfireWindow = *in.MisfireWindow
	}
	setStr(&j.Queue, in.Queue)
	if in.Priority != nil {
		j.Priority = *in.Priority
	}
	setStr(&j.Calendar, in.Calendar)
	setStr(&j.CalendarMode, in.CalendarMode)
	// A job that names a calendar without a mode means working days; one
	// that drops its calendar drops the mode with it.
	switch {
	case j.Calendar == "" && in.Calendar != nil && in.CalendarMode == nil:
		j.CalendarMode = ""
	case j.Calendar != "" && j.CalendarMode == "":
		j.CalendarMode = string(calendar.ModeWorkdays)
	}
	if in.OnSuccess != nil {
		j.OnSuccess = normalizeChainList(*in.OnSuccess)
	}
	if in.OnFailure != nil {
		j.OnFailure = normalizeChainList(*in.OnFailure)
	}
	in.applyRetention(j)
	j.UpdatedAt = now

	var sc SecretChange
	raw := bytes.TrimSpace(in.SecretCfg)
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			return SecretChange{}, FieldError("secret_cfg", "", "secret_cfg must be a JSON object")
		}
		sc = SecretChange{Set: true, Value: m}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		j.SecretKeys = keys
		j.HasSecret = len(keys) > 0
	}
	return sc, nil
}

// Limits on job fields, which bound what a job stores and what each of its
// runs copies into its snapshot; documented in docs/api.md.
const (
	maxDescriptionLen = 4000
	maxQueueLen       = 64
	maxAttemptsLimit  = 100
	maxPriority       = 1_000_000
)

var queuePattern = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// Validate checks every field of a job against the rules of docs/api.md and
// returns the first problem as a field error. The handler's existence is
// checked by the service, which knows the registry.
func (j *Job) Validate() error {
	if err := ValidateID(j.ID); err != nil {
		return err
	}
	if utf8.RuneCountInString(j.Description) > maxDescriptionLen {
		return FieldError("description", "", "description must be at most %d characters", maxDescriptionLen)
	}
	if j.Handler == "" {
		return FieldError("handler", "", "handler is required")
	}
	if _, err := time.LoadLocation(j.Timezone); err != nil || j.Timezone == "" || strings.EqualFold(j.Timezone, "local") {
		return FieldError("timezone", "invalid_timezone", "unknown timezone %q (use an IANA name like Asia/Shanghai)", j.Timezone)
	}
	if j.CronExpr != "" {
		sched, err := cron.Parse(j.CronExpr)
		if err != nil {
			return FieldError("cron_expr", "invalid_cron", "%s", err.Error())
		}
		// A well-formed expression such as "0 0 30 2 *" may never fire; a
		// user who saves one has made a mistake, so say so now.
		if sched.Next(time.Now(), j.Location()).IsZero() {
			return FieldError("cron_expr", "invalid_cron", "cron expression %q never fires", j.CronExpr)
		}
	}
	if !IsJSONObject(j.PublicCfg) {
		return FieldError("public_cfg", "", "public_cfg must be a JSON object")
	}
	if j.Timeout < 0 {
		return FieldError("timeout", "", "timeout must not be negative")
	}
	if j.MaxAttempts < 1 || j.MaxAttempts > maxAttemptsLimit {
		return FieldError("max_attempts", "", "max_attempts must be between 1 and %d", maxAttemptsLimit)
	}
	if j.RetryBackoff < 0 {
		return FieldError("retry_backoff", "", "retry_backoff must not be negative")
	}
	switch j.Concurrency {
	case ConcurrencyForbid, ConcurrencyAllow, ConcurrencyReplace:
	default:
		return FieldError("concurrency", "", "concurrency must be one of forbid, allow, replace")
	}
	switch j.Misfire {
	case MisfireSkip, MisfireOnce, MisfireAll:
	default:
		return FieldError("misfire", "", "misfire must be one of skip, once, all")
	}
	if j.MisfireWindow < 0 {
		return FieldError("misfire_window", "", "misfire_window must not be negative")
	}
	if j.Queue == "" || len(j.Queue) > maxQueueLen || !queuePattern.MatchString(j.Queue) {
		return FieldError("queue", "", "queue must be 1-%d characters of A-Z a-z 0-9 . _ : -", maxQueueLen)
	}
	if j.Priority < -maxPriority || j.Priority > maxPriority {
		return FieldError("priority", "", "priority must be between %d and %d", -maxPriority, maxPriority)
	}
	if j.Calendar != "" {
		if err := calendar.CheckName(j.Calendar); err != nil {
			return FieldError("calendar", "", "calendar %s", strings.TrimPrefix(err.Error(), "name: "))
		}
	}
	if j.CalendarMode != "" {
		if j.Calendar == "" {
			return FieldError("calendar_mode", "", "calendar_mode needs a calendar")
		}
		if _, err := calendar.ParseMode(j.CalendarMode); err != nil {
			return FieldError("calendar_mode", "", "%s", err.Error())
		}
	}
	if err := j.ValidateChains(); err != nil {
		return err
	}
	return j.validateRetention()
}

// Location returns the job's time zone, UTC if it cannot be loaded (which
// Validate prevents).
func (j *Job) Location() *time.Location {
	loc, err := time.LoadLocation(j.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// NextFire computes the job's next cron slot strictly after t, or nil when
// the job has no cron expression or the expression never fires again. It
// ignores the job's calendar: see NextFireIn.
func (j *Job) NextFire(after time.Time) (*time.Time, error) {
	return j.NextFireIn(after, nil)
}

// NextFireIn is NextFire for a job whose calendar is cal (nil for none):
// the first slot after t that the calendar lets through, in the job's
// calendar mode, or nil when there is none within calendar.MaxSkips slots.
func (j *Job) NextFireIn(after time.Time, cal *calendar.Calendar) (*time.Time, error) {
	if j.CronExpr == "" {
		return nil, nil
	}
	s, err := cron.Parse(j.CronExpr)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", j.ID, err)
	}
	loc := j.Location()
	step := func(t time.Time) time.Time { return s.Next(t, loc) }
	var next time.Time
	if cal == nil {
		next = step(after)
	} else {
		next, _ = calendar.Next(step, cal, calendar.Mode(j.CalendarMode), after, 0)
	}
	if next.IsZero() {
		return nil, nil
	}
	next = next.UTC()
	return &next, nil
}
