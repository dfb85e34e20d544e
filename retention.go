package connecthub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxKeepRuns bounds a job's keep_runs: beyond it a count limit means
// nothing a history page could show, and a typo of a few digits more
// should be caught rather than silently keep everything.
const MaxKeepRuns = 1_000_000

// maxKeepForDays bounds keep_for written in days, like the server's
// retention settings.
const maxKeepForDays = 100000

// ParseKeepFor reads a retention period the way operators write one: whole
// days ("30d"), a Go duration ("720h") or "" for none (the server's
// default). A negative or unreadable value is an error that says what to
// write instead.
func ParseKeepFor(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(t, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 32)
		if err != nil || n < 0 || n > maxKeepForDays {
			return 0, fmt.Errorf("%q is not a number of days between 0 and %d", s, maxKeepForDays)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use whole days like \"30d\" or Go syntax like \"720h\")", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative, got %q", s)
	}
	return Duration(d), nil
}

// decodeKeepFor reads keep_for from a job input: a string for
// ParseKeepFor, a number of seconds, or null (unchanged).
func decodeKeepFor(raw json.RawMessage) (*Duration, error) {
	raw = bytes.TrimSpace(raw)
	if bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var d Duration
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, FieldError("keep_for", "", "keep_for must be a string like \"30d\"")
		}
		v, err := ParseKeepFor(s)
		if err != nil {
			return nil, FieldError("keep_for", "", "keep_for %s", err.Error())
		}
		d = v
	} else if err := d.UnmarshalJSON(raw); err != nil {
		return nil, FieldError("keep_for", "", "keep_for %s", err.Error())
	}
	return &d, nil
}

// applyRetention copies the retention fields present in the input.
func (in *JobInput) applyRetention(j *Job) {
	if in.KeepRuns != nil {
		j.KeepRuns = *in.KeepRuns
	}
	if in.KeepFor != nil {
		j.KeepFor = *in.KeepFor
	}
}

// validateRetention checks keep_runs and keep_for.
func (j *Job) validateRetention() error {
	if j.KeepRuns < 0 || j.KeepRuns > MaxKeepRuns {
		return FieldError("keep_runs", "", "keep_runs must be between 0 (no count limit) and %d", MaxKeepRuns)
	}
	if j.KeepFor < 0 {
		return FieldError("keep_for", "", "keep_for must not be negative")
	}
	return nil
}
