package connecthub

import (
	"encoding/json"
	"time"
)

// RunStatus is the state of a run. QUEUED → RUNNING → SUCCESS | FAILURE, and
// CANCELED or SKIPPED; terminal states never change again.
type RunStatus string

// The run statuses. Their values are stable: the database stores them and
// the API, the CLI and the admin UI show them as they are.
const (
	StatusQueued   RunStatus = "QUEUED"
	StatusRunning  RunStatus = "RUNNING"
	StatusSuccess  RunStatus = "SUCCESS"
	StatusFailure  RunStatus = "FAILURE"
	StatusCanceled RunStatus = "CANCELED"
	StatusSkipped  RunStatus = "SKIPPED"
)

// AllStatuses lists every status, in lifecycle order, for stats and filters.
var AllStatuses = []RunStatus{StatusQueued, StatusRunning, StatusSuccess, StatusFailure, StatusCanceled, StatusSkipped}

// Terminal reports whether the status is final.
func (s RunStatus) Terminal() bool {
	switch s {
	case StatusSuccess, StatusFailure, StatusCanceled, StatusSkipped:
		return true
	}
	return false
}

// Valid reports whether s is one of the known statuses.
func (s RunStatus) Valid() bool {
	for _, v := range AllStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Trigger says why a run exists.
type Trigger string

// The triggers. Their values are stable: each run stores its trigger and the
// API shows it.
const (
	TriggerCron   Trigger = "cron"
	TriggerManual Trigger = "manual"
	TriggerRetry  Trigger = "retry"
	TriggerAPI    Trigger = "api"
)

// Valid reports whether t is one of the known triggers.
func (t Trigger) Valid() bool {
	switch t {
	case TriggerCron, TriggerManual, TriggerRetry, TriggerAPI, TriggerChain:
		return true
	}
	return false
}

// Failure reasons recorded in a run's error by the engine itself.
const (
	ReasonTimeout    = "timeout"
	ReasonWorkerLost = "worker lost"
	ReasonCanceled   = "canceled"
)

// Snapshot is what a run executes, frozen when the run is created, so that a
// retry repeats exactly what ran even if the job was edited since.
type Snapshot struct {
	Handler      string          `json:"handler"`
	PublicCfg    json.RawMessage `json:"public_cfg"`
	SecretKeys   []string        `json:"secret_keys"`
	HasSecret    bool            `json:"has_secret"`
	Timeout      Duration        `json:"timeout"`
	MaxAttempts  int             `json:"max_attempts"`
	RetryBackoff Duration        `json:"retry_backoff"`
	Meta         SnapshotMeta    `json:"meta"`

	// SecretCfg is the Fernet token of the secrets, never marshalled.
	SecretCfg string `json:"-"`
}

// SnapshotMeta records why and by whom the run was made.
type SnapshotMeta struct {
	Trigger      Trigger   `json:"trigger"`
	RetryOf      string    `json:"retry_of,omitempty"`
	ScheduledFor time.Time `json:"scheduled_for"`
	RequestedBy  string    `json:"requested_by,omitempty"`
	// Params are the parameters of a run-now, as given: the snapshot's
	// public_cfg is the job's with them merged in (ApplyRunParams).
	Params json.RawMessage `json:"params,omitempty"`
	// Upstream is the run that started a chained run (trigger chain).
	Upstream *Upstream `json:"upstream,omitempty"`
}

// Attempt is one past attempt of a run that was retried or rescued.
type Attempt struct {
	Attempt    int        `json:"attempt"`
	Node       string     `json:"node,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt time.Time  `json:"finished_at"`
	Status     RunStatus  `json:"status"`
	Error      string     `json:"error,omitempty"`
}

// Run is one execution of a job: its queue entry, its lease and its record.
type Run struct {
	ID              string          `json:"id"`
	JobID           string          `json:"job_id"`
	Status          RunStatus       `json:"status"`
	Trigger         Trigger         `json:"trigger"`
	ScheduledFor    time.Time       `json:"scheduled_for"`
	Queue           string          `json:"queue"`
	Priority        int             `json:"priority"`
	Snapshot        Snapshot        `json:"snapshot_params"`
	Attempt         int             `json:"attempt"`
	MaxAttempts     int             `json:"max_attempts"`
	Attempts        []Attempt       `json:"attempts"`
	AvailableAt     time.Time       `json:"available_at"`
	Node            string          `json:"node"`
	LeaseExpiresAt  *time.Time      `json:"lease_expires_at"`
	HeartbeatAt     *time.Time      `json:"heartbeat_at"`
	CancelRequested bool            `json:"cancel_requested"`
	StartedAt       *time.Time      `json:"started_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	Duration        *Duration       `json:"duration"`
	Message         string          `json:"message"`
	Error           string          `json:"error"`
	Traceback       string          `json:"traceback"`
	Result          json.RawMessage `json:"result"`
	// Meta is a JSON object of facts about the run that are not part of
	// what it executes (see RunMeta), or nil.
	Meta      json.RawMessage `json:"meta,omitempty"`
	LogSize   int64           `json:"log_size"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// FillDuration sets Duration from StartedAt and FinishedAt.
func (r *Run) FillDuration() {
	if r.StartedAt != nil && r.FinishedAt != nil {
		d := Duration(r.FinishedAt.Sub(*r.StartedAt))
		r.Duration = &d
	} else {
		r.Duration = nil
	}
}

// NewRun builds a QUEUED run of job j from the job's current definition.
// The id is left empty for the store to assign.
func NewRun(j *Job, trigger Trigger, scheduledFor, now time.Time, requestedBy string) *Run {
	return &Run{
		JobID:        j.ID,
		Status:       StatusQueued,
		Trigger:      trigger,
		ScheduledFor: scheduledFor,
		Queue:        j.Queue,
		Priority:     j.Priority,
		Snapshot: Snapshot{
			Handler:      j.Handler,
			PublicCfg:    j.PublicCfg,
			SecretKeys:   j.SecretKeys,
			HasSecret:    j.HasSecret,
			SecretCfg:    j.SecretCfg,
			Timeout:      j.Timeout,
			MaxAttempts:  j.MaxAttempts,
			RetryBackoff: j.RetryBackoff,
			Meta:         SnapshotMeta{Trigger: trigger, ScheduledFor: scheduledFor, RequestedBy: requestedBy},
		},
		Attempt:     1,
		MaxAttempts: j.MaxAttempts,
		AvailableAt: now,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

// RetryRun builds a new QUEUED run that repeats old from its snapshot (not
// the job's current definition), with trigger retry and meta.retry_of. The
// params of a run-now stay, so the retry repeats the same run.
func RetryRun(old *Run, now time.Time, requestedBy string) *Run {
	snap := old.Snapshot
	snap.Meta = SnapshotMeta{Trigger: TriggerRetry, RetryOf: old.ID, ScheduledFor: now, RequestedBy: requestedBy,
		Params: old.Snapshot.Meta.Params, Upstream: old.Snapshot.Meta.Upstream}
	return &Run{
		JobID:        old.JobID,
		Status:       StatusQueued,
		Trigger:      TriggerRetry,
		ScheduledFor: now,
		Queue:        old.Queue,
		Priority:     old.Priority,
		Snapshot:     snap,
		Attempt:      1,
		MaxAttempts:  snap.MaxAttempts,
		AvailableAt:  now,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
}

// Stats summarises the queue for dashboards and the stats endpoint.
type Stats struct {
	Runs        map[RunStatus]int64 `json:"runs"`
	Queues      []QueueStats        `json:"queues"`
	Jobs        int64               `json:"jobs"`
	JobsEnabled int64               `json:"jobs_enabled"`
	ActiveNodes int64               `json:"active_nodes"`
	// Warnings are conditions an operator should fix, such as a calendar
	// that jobs use and that lacks this year's holidays.
	Warnings []string `json:"warnings,omitempty"`

	// Runs24h counts the runs that finished since Since24h by status (the
	// finished statuses only), and Since24h is the start of the UTC hour
	// 23 hours before now: the window is whole hours, so that maintained
	// hourly counts give it exactly.
	Runs24h  map[RunStatus]int64 `json:"runs_24h"`
	Since24h time.Time           `json:"runs_24h_since"`
	// Nodes counts the registered nodes by present_state.
	Nodes map[string]int64 `json:"nodes"`
}

// QueueStats is the depth of one queue.
type QueueStats struct {
	Queue           string  `json:"queue"`
	Depth           int64   `json:"depth"`
	OldestAgeSecond float64 `json:"oldest_queued_age_seconds"`
	// Paused says an operator paused the queue: its runs wait.
	Paused bool `json:"paused"`
}
