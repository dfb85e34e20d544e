package connecthub

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// TriggerChain is the trigger of a run that a chain started: a run of an
// upstream job ended, and this job is in its on_success or on_failure.
const TriggerChain Trigger = "chain"

// MaxChainTargets bounds each of a job's on_success and on_failure lists,
// which bounds the runs one ending run can start.
const MaxChainTargets = 32

// ChainSuccess and ChainFailure are the names of a job's two chain
// fields, as the API, errors and the edges of a chain graph name them.
const (
	ChainSuccess = "on_success"
	ChainFailure = "on_failure"
)

// Upstream is what a chained run knows of the run that started it: the
// parent's run and job, how it ended and what it returned. It is frozen
// into the chained run's snapshot when the parent ends, so a retry of the
// chained run sees the same upstream, and it outlives the parent's record.
type Upstream struct {
	RunID  string    `json:"run_id"`
	JobID  string    `json:"job_id"`
	Status RunStatus `json:"status"`
	// Result is the parent's result (JSON), absent when it returned none.
	Result json.RawMessage `json:"result,omitempty"`
	// Error is the parent's error, for an on_failure job to report on.
	Error string `json:"error,omitempty"`
}

// ChainTargets returns the jobs a run of j starts when it ends with
// status: on_success for SUCCESS, on_failure for FAILURE, none otherwise
// (a canceled or skipped run starts nothing).
func (j *Job) ChainTargets(status RunStatus) []string {
	switch status {
	case StatusSuccess:
		return j.OnSuccess
	case StatusFailure:
		return j.OnFailure
	}
	return nil
}

// HasChains reports whether the job starts other jobs.
func (j *Job) HasChains() bool { return len(j.OnSuccess) > 0 || len(j.OnFailure) > 0 }

// decodeChainList decodes a chain field: a JSON array of job ids, or a
// string of comma-separated ids (what a form sends). null leaves the field
// alone.
func decodeChainList(name string, raw json.RawMessage) (*[]string, error) {
	raw = bytes.TrimSpace(raw)
	if bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var ids []string
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, FieldError(name, "", "%s must be a list of job ids", name)
		}
		ids = SplitChainList(s)
	} else if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, FieldError(name, "", "%s must be a list of job ids", name)
	}
	if ids == nil {
		ids = []string{}
	}
	return &ids, nil
}

// SplitChainList splits a comma- or space-separated list of job ids, as
// forms and the CLI take them.
func SplitChainList(s string) []string {
	ids := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		ids = append(ids, f)
	}
	return ids
}

// normalizeChainList trims the ids of a chain list and drops repeats,
// keeping the first occurrence's order; never nil.
func normalizeChainList(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out
}

// ValidateChains checks the form of a job's chain lists: job ids, at most
// MaxChainTargets each. Whether the jobs exist, and whether the lists make
// a cycle, depend on the other jobs: the store checks those when it
// writes the job.
func (j *Job) ValidateChains() error {
	for _, f := range []struct {
		name string
		ids  []string
	}{{ChainSuccess, j.OnSuccess}, {ChainFailure, j.OnFailure}} {
		if len(f.ids) > MaxChainTargets {
			return FieldError(f.name, "", "%s names at most %d jobs", f.name, MaxChainTargets)
		}
		for _, id := range f.ids {
			if err := ValidateID(id); err != nil {
				return FieldError(f.name, "", "%q is not a job id (1-128 characters of A-Z a-z 0-9 . _ : -)", id)
			}
		}
	}
	return nil
}

// NewChainRun builds the QUEUED run of job j that the end of parent
// starts: trigger chain, meta.parent_run, and the parent in the snapshot's
// upstream. The id is left empty for the store to assign.
func NewChainRun(j *Job, parent *Upstream, now time.Time) (*Run, error) {
	r := NewRun(j, TriggerChain, now, now, "")
	up := *parent
	r.Snapshot.Meta.Upstream = &up
	meta, err := RunMeta{ParentRun: parent.RunID}.Encode()
	if err != nil {
		return nil, err
	}
	r.Meta = meta
	return r, nil
}

// JobChain is a job's place in the chains: the jobs that start it
// (Upstream: their on_success or on_failure names it) and the jobs it
// starts.
type JobChain struct {
	JobID     string   `json:"job_id"`
	Upstream  []string `json:"upstream"`
	OnSuccess []string `json:"on_success"`
	OnFailure []string `json:"on_failure"`
}

// ChainRun is a run as a chain's links show it.
type ChainRun struct {
	ID         string     `json:"id"`
	JobID      string     `json:"job_id"`
	Status     RunStatus  `json:"status"`
	Trigger    Trigger    `json:"trigger"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// ChainRunOf returns r as a chain link.
func ChainRunOf(r *Run) ChainRun {
	return ChainRun{ID: r.ID, JobID: r.JobID, Status: r.Status, Trigger: r.Trigger, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt}
}

// RunChain is a run's links: the run whose end started it (ParentRun, its
// id, from meta.parent_run; Parent, nil when that run is gone) and the
// runs its own end started.
type RunChain struct {
	RunID     string     `json:"run_id"`
	ParentRun string     `json:"parent_run,omitempty"`
	Parent    *ChainRun  `json:"parent"`
	Children  []ChainRun `json:"children"`
}
