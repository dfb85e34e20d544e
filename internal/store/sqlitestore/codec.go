package sqlitestore

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Times are stored as INTEGER unix microseconds: compact, sortable, exact to
// the precision PostgreSQL keeps, and free of time zone and format questions.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros returns the value of an optional time column: nil (NULL) or
// an int64. Plain driver values skip database/sql's Valuer conversion,
// which shows on the hot paths.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// placeholders returns "?, ?, ?" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// Jobs.

const jobColumns = `id, description, enabled, cron_expr, timezone, handler, public_cfg,
	secret_cfg, secret_keys, has_secret, timeout_ns, max_attempts, retry_backoff_ns,
	concurrency, misfire, misfire_window_ns, queue, priority, last_run_at, next_run_at,
	created_at, updated_at, calendar, calendar_mode, on_success, on_failure,
	keep_runs, keep_for_ns`

// jobArgs returns the values of jobColumns for j, in order.
func jobArgs(j *connecthub.Job) ([]any, error) {
	public, err := store.JobPublicCfg(j)
	if err != nil {
		return nil, err
	}
	keys := j.SecretKeys
	if keys == nil {
		keys = []string{}
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("encode secret_keys: %w", err)
	}
	return []any{
		j.ID, j.Description, boolInt(j.Enabled), j.CronExpr, j.Timezone, j.Handler, public,
		j.SecretCfg, string(secretKeys), boolInt(j.HasSecret), int64(j.Timeout), int64(j.MaxAttempts), int64(j.RetryBackoff),
		j.Concurrency, j.Misfire, int64(j.MisfireWindow), j.Queue, int64(j.Priority), nullMicros(j.LastRunAt), nullMicros(j.NextRunAt),
		micros(j.CreatedAt), micros(j.UpdatedAt), j.Calendar, j.CalendarMode,
		chainListJSON(j.OnSuccess), chainListJSON(j.OnFailure),
		int64(j.KeepRuns), int64(j.KeepFor),
	}, nil
}

func scanJob(sc scanner) (*connecthub.Job, error) {
	var (
		j                                            connecthub.Job
		enabled, hasSecret                           int64
		public, secretKeys                           string
		timeout, retryBackoff, misfireWindow, maxAtt int64
		priority                                     int64
		lastRun, nextRun                             sql.NullInt64
		created, updated                             int64
		onSuccess, onFailure                         string
		keepRuns, keepFor                            int64
	)
	err := sc.Scan(&j.ID, &j.Description, &enabled, &j.CronExpr, &j.Timezone, &j.Handler, &public,
		&j.SecretCfg, &secretKeys, &hasSecret, &timeout, &maxAtt, &retryBackoff,
		&j.Concurrency, &j.Misfire, &misfireWindow, &j.Queue, &priority, &lastRun, &nextRun,
		&created, &updated, &j.Calendar, &j.CalendarMode, &onSuccess, &onFailure,
		&keepRuns, &keepFor)
	if err != nil {
		return nil, err
	}
	j.Enabled = enabled != 0
	j.HasSecret = hasSecret != 0
	j.PublicCfg = json.RawMessage(public)
	if err := json.Unmarshal([]byte(secretKeys), &j.SecretKeys); err != nil {
		return nil, fmt.Errorf("job %s: decode secret_keys: %w", j.ID, err)
	}
	if j.SecretKeys == nil {
		j.SecretKeys = []string{}
	}
	j.Timeout = connecthub.Duration(timeout)
	j.MaxAttempts = int(maxAtt)
	j.RetryBackoff = connecthub.Duration(retryBackoff)
	j.MisfireWindow = connecthub.Duration(misfireWindow)
	j.Priority = int(priority)
	j.KeepRuns = int(keepRuns)
	j.KeepFor = connecthub.Duration(keepFor)
	j.LastRunAt = timePtr(lastRun)
	j.NextRunAt = timePtr(nextRun)
	j.CreatedAt = fromMicros(created)
	j.UpdatedAt = fromMicros(updated)
	if j.OnSuccess, err = decodeChainList(j.ID, onSuccess); err != nil {
		return nil, err
	}
	if j.OnFailure, err = decodeChainList(j.ID, onFailure); err != nil {
		return nil, err
	}
	return &j, nil
}

// Runs.

// runColumns lists the columns scanRun reads. The secret token is read only
// where it is wanted (the claim); elsewhere an empty string stands in.
func runColumns(withSecret bool) string {
	secret := `''`
	if withSecret {
		secret = `snapshot_secret`
	}
	return `id, job_id, status, "trigger", scheduled_for, queue, priority, snapshot, ` + secret + `,
	attempt, max_attempts, attempts, available_at, node, lease_expires_at, heartbeat_at,
	cancel_requested, started_at, finished_at, message, error, traceback, result, log_size,
	created_at, updated_at, meta`
}

const runInsertColumns = `id, job_id, status, "trigger", scheduled_for, queue, priority, handler,
	snapshot, snapshot_secret, attempt, max_attempts, attempts, available_at, node,
	lease_expires_at, heartbeat_at, cancel_requested, started_at, finished_at, message,
	error, traceback, result, created_at, updated_at, meta`

const runInsertColumnCount = 27

// runInsertArgs appends the values of runInsertColumns for r to args.
func runInsertArgs(args []any, r *connecthub.Run) ([]any, error) {
	snap, err := store.EncodeSnapshot(r.Snapshot)
	if err != nil {
		return nil, err
	}
	attempts, err := store.EncodeAttempts(r.Attempts)
	if err != nil {
		return nil, err
	}
	return append(args,
		r.ID, r.JobID, string(r.Status), string(r.Trigger), micros(r.ScheduledFor), r.Queue, int64(r.Priority), r.Snapshot.Handler,
		snap, r.Snapshot.SecretCfg, int64(r.Attempt), int64(r.MaxAttempts), attempts, micros(r.AvailableAt), r.Node,
		nullMicros(r.LeaseExpiresAt), nullMicros(r.HeartbeatAt), boolInt(r.CancelRequested), nullMicros(r.StartedAt), nullMicros(r.FinishedAt), r.Message,
		r.Error, r.Traceback, nullJSON(r.Result), micros(r.CreatedAt), micros(r.UpdatedAt), nullJSON(r.Meta),
	), nil
}

func scanRun(sc scanner) (*connecthub.Run, error) {
	var (
		r                                   connecthub.Run
		status, trigger, attempts           string
		snap                                []byte
		scheduled, available, created, upd  int64
		priority, attempt, maxAttempts      int64
		lease, heartbeat, started, finished sql.NullInt64
		cancel                              int64
		result, meta                        sql.NullString
	)
	err := sc.Scan(&r.ID, &r.JobID, &status, &trigger, &scheduled, &r.Queue, &priority, &snap, &r.Snapshot.SecretCfg,
		&attempt, &maxAttempts, &attempts, &available, &r.Node, &lease, &heartbeat,
		&cancel, &started, &finished, &r.Message, &r.Error, &r.Traceback, &result, &r.LogSize,
		&created, &upd, &meta)
	if err != nil {
		return nil, err
	}
	if meta.Valid {
		r.Meta = json.RawMessage(meta.String)
	}
	if err := store.DecodeSnapshot(snap, &r.Snapshot); err != nil {
		return nil, fmt.Errorf("run %s: decode snapshot: %w", r.ID, err)
	}
	if r.Attempts, err = store.DecodeAttempts(attempts); err != nil {
		return nil, fmt.Errorf("run %s: %w", r.ID, err)
	}
	r.Status = connecthub.RunStatus(status)
	r.Trigger = connecthub.Trigger(trigger)
	r.ScheduledFor = fromMicros(scheduled)
	r.Priority = int(priority)
	r.Attempt = int(attempt)
	r.MaxAttempts = int(maxAttempts)
	r.AvailableAt = fromMicros(available)
	r.LeaseExpiresAt = timePtr(lease)
	r.HeartbeatAt = timePtr(heartbeat)
	r.CancelRequested = cancel != 0
	r.StartedAt = timePtr(started)
	r.FinishedAt = timePtr(finished)
	if result.Valid {
		r.Result = json.RawMessage(result.String)
	}
	r.CreatedAt = fromMicros(created)
	r.UpdatedAt = fromMicros(upd)
	r.FillDuration()
	return &r, nil
}

// nullJSON stores an absent result as NULL.
func nullJSON(raw json.RawMessage) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	return string(raw)
}
