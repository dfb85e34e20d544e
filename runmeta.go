package connecthub

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// RunMeta is the meta object of a run (Run.Meta): facts about a run that
// are not part of what it executes, so they live apart from its snapshot.
// Unknown keys are kept by whoever rewrites the object through
// json.RawMessage, so features can add their own.
type RunMeta struct {
	// ImportedFrom says which record of another system the run was
	// imported from; nil for runs ConnectHub made.
	ImportedFrom *ImportedFrom `json:"imported_from,omitempty"`
	// ParentRun is the run whose end started this one (trigger chain).
	ParentRun string `json:"parent_run,omitempty"`
	// RequestKey is the Idempotency-Key of the run-now request that made
	// the run (see CheckRequestKey): another request for the same job with
	// the same key gets this run instead of a new one.
	RequestKey string `json:"request_key,omitempty"`
}

// ImportedFrom identifies the record an imported run was made from.
type ImportedFrom struct {
	// System names where it came from: "python" for the Python ConnectHub.
	System string `json:"system"`
	// JobLogsID is the id of the job_logs row, as that database stores it
	// (a number, or a string for a text id).
	JobLogsID any `json:"job_logs_id"`
	// CeleryTaskID is the Celery task that ran it, when it was recorded.
	CeleryTaskID string `json:"celery_task_id,omitempty"`
}

// String says where the run came from in one line, for the CLI:
// "python job_logs 123, celery task abc".
func (f *ImportedFrom) String() string {
	if f == nil {
		return ""
	}
	s := f.System + " job_logs " + f.LogID()
	if f.CeleryTaskID != "" {
		s += ", celery task " + f.CeleryTaskID
	}
	return s
}

// LogID is JobLogsID as text. A number decoded from JSON is a float64,
// which %v would print as 1e+06; it is printed in full.
func (f *ImportedFrom) LogID() string {
	switch v := f.JobLogsID.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// ImportSystemPython is ImportedFrom.System for the Python ConnectHub.
const ImportSystemPython = "python"

// Encode returns the meta object as JSON for Run.Meta.
func (m RunMeta) Encode() (json.RawMessage, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode run meta: %w", err)
	}
	return b, nil
}

// DecodeRunMeta reads a run's meta object; an absent one is the zero
// RunMeta.
func DecodeRunMeta(raw json.RawMessage) (RunMeta, error) {
	var m RunMeta
	if len(raw) == 0 || string(raw) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("decode run meta: %w", err)
	}
	return m, nil
}
