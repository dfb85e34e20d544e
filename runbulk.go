package connecthub

import (
	"strings"
	"time"
)

// Bulk actions on a list of runs (POST /api/v1/runs/bulk/{action}).
const (
	BulkRetry  = "retry"
	BulkCancel = "cancel"
	BulkDelete = "delete"
)

// MaxBulkRuns caps how many runs one bulk action may select: a filter that
// selects more is refused, so that a missing filter never retries or
// deletes a whole history by accident. Narrow the filter, or repeat.
const MaxBulkRuns = 1000

// Outcomes of one run in a bulk action.
const (
	BulkOK      = "ok"      // done (or, in a dry run, would be done)
	BulkSkipped = "skipped" // not applicable to the run; Reason says why
)

// BulkRunRequest selects runs by Filter (the filters of GET /runs) or by
// IDs (not both), and acts on them. Expect is the number of runs the
// caller was shown (a dry run's Matched): the action refuses, changing
// nothing, when the selection no longer has that many runs. A DryRun
// changes nothing and says what would happen to each run.
type BulkRunRequest struct {
	Filter BulkRunFilter `json:"filter"`
	IDs    []string      `json:"ids,omitempty"`
	Expect *int          `json:"expect,omitempty"`
	DryRun bool          `json:"dry_run,omitempty"`
}

// BulkRunFilter is GET /runs' filter as a JSON object.
type BulkRunFilter struct {
	JobID   string      `json:"job_id,omitempty"`
	Status  []RunStatus `json:"status,omitempty"`
	Trigger Trigger     `json:"trigger,omitempty"`
	Since   *time.Time  `json:"since,omitempty"`
	Until   *time.Time  `json:"until,omitempty"`
}

// Empty reports whether the filter selects every run.
func (f BulkRunFilter) Empty() bool {
	return f.JobID == "" && len(f.Status) == 0 && f.Trigger == "" && f.Since == nil && f.Until == nil
}

// ParseRunStatuses reads a comma-separated list of run statuses as the
// runs list's filter takes it (failure,CANCELED): upper case, spaces and
// empty items dropped. Whether each is a status is RunFilter's check.
func ParseRunStatuses(s string) []RunStatus {
	var out []RunStatus
	for _, st := range strings.Split(s, ",") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, RunStatus(strings.ToUpper(st)))
		}
	}
	return out
}

// RunFilter checks the filter and returns it as a RunFilter (without
// paging), with statuses and trigger in their canonical case.
func (f BulkRunFilter) RunFilter() (RunFilter, error) {
	out := RunFilter{JobID: f.JobID, Since: f.Since, Until: f.Until}
	for _, s := range f.Status {
		st := RunStatus(strings.ToUpper(strings.TrimSpace(string(s))))
		if !st.Valid() {
			return RunFilter{}, FieldError("filter.status", "", "status must be one of QUEUED, RUNNING, SUCCESS, FAILURE, CANCELED, SKIPPED")
		}
		out.Status = append(out.Status, st)
	}
	if f.Trigger != "" {
		t := Trigger(strings.ToLower(strings.TrimSpace(string(f.Trigger))))
		if !t.Valid() {
			return RunFilter{}, FieldError("filter.trigger", "", "trigger must be one of cron, manual, retry, api, chain")
		}
		out.Trigger = t
	}
	return out, nil
}

// BulkRunResult is what a bulk action did, run by run.
type BulkRunResult struct {
	Action string `json:"action"`
	DryRun bool   `json:"dry_run"`
	// Matched is how many runs the selection holds.
	Matched int `json:"matched"`
	// OK and Skipped count the outcomes.
	OK      int `json:"ok"`
	Skipped int `json:"skipped"`
	// Complete is true when every selected run has its outcome. When the
	// action stopped (a database failure, the request ended), Stopped
	// says why, and the runs after the last outcome were not touched.
	Complete bool             `json:"complete"`
	Stopped  string           `json:"stopped,omitempty"`
	Outcomes []BulkRunOutcome `json:"outcomes"`
}

// BulkRunOutcome is what a bulk action did to one run.
type BulkRunOutcome struct {
	RunID   string    `json:"run_id"`
	JobID   string    `json:"job_id,omitempty"`
	Status  RunStatus `json:"status,omitempty"` // the run's status when selected
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	// NewRunID is the run a retry enqueued.
	NewRunID string `json:"new_run_id,omitempty"`
}

// Add records an outcome and counts it.
func (r *BulkRunResult) Add(o BulkRunOutcome) {
	r.Outcomes = append(r.Outcomes, o)
	if o.Outcome == BulkOK {
		r.OK++
	} else {
		r.Skipped++
	}
}

// BulkSkipReason says why action does not apply to a run in status, or ""
// when it does: the rules a dry run predicts and the action follows.
func BulkSkipReason(action string, status RunStatus) string {
	switch action {
	case BulkRetry, BulkDelete:
		if !status.Terminal() {
			verb := map[string]string{BulkRetry: "retry", BulkDelete: "delete"}[action]
			return "run is " + string(status) + "; cancel it or wait for it to end before you " + verb + " it"
		}
	case BulkCancel:
		if status.Terminal() {
			return "run already ended " + string(status)
		}
	}
	return ""
}

// ValidBulkAction reports whether action names a bulk action.
func ValidBulkAction(action string) bool {
	return action == BulkRetry || action == BulkCancel || action == BulkDelete
}
