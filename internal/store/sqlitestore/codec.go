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

// dialect is how the list filters of package store write SQLite.
var dialect = store.Dialect{
	Mark: func(int) string { return "?" },
	Time: func(t time.Time) any { return micros(t) },
	Prefix: func(col, v string) (string, []any) {
		return "substr(" + col + ", 1, ?) = ?", []any{len(v), v}
	},
	// instr rather than LIKE: the user's % and _ are plain characters.
	// lower() folds ASCII only, which is what ids and most descriptions
	// need; PostgreSQL's lower() folds more.
	Contains: func(col string) string { return "instr(lower(" + col + "), lower(?)) > 0" },
	Bool:     func(b bool) any { return boolInt(b) },
	Statuses: statusCondition,
}

// Jobs.

// jobArgs returns the values of store.JobColumns for j, in order.
func jobArgs(j *connecthub.Job) ([]any, error) {
	public, err := store.JobPublicCfg(j)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(store.JobSecretKeys(j))
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
		j                    connecthub.Job
		n                    store.JobInts
		enabled, hasSecret   int64
		public, secretKeys   string
		lastRun, nextRun     sql.NullInt64
		created, updated     int64
		onSuccess, onFailure string
	)
	err := sc.Scan(&j.ID, &j.Description, &enabled, &j.CronExpr, &j.Timezone, &j.Handler, &public,
		&j.SecretCfg, &secretKeys, &hasSecret, &n.Timeout, &n.MaxAttempts, &n.RetryBackoff,
		&j.Concurrency, &j.Misfire, &n.MisfireWindow, &j.Queue, &n.Priority, &lastRun, &nextRun,
		&created, &updated, &j.Calendar, &j.CalendarMode, &onSuccess, &onFailure,
		&n.KeepRuns, &n.KeepFor)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(secretKeys), &j.SecretKeys); err != nil {
		return nil, fmt.Errorf("job %s: decode secret_keys: %w", j.ID, err)
	}
	n.Set(&j)
	j.Enabled = enabled != 0
	j.HasSecret = hasSecret != 0
	j.PublicCfg = json.RawMessage(public)
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
	var x runRow
	if err := sc.Scan(x.targets()...); err != nil {
		return nil, err
	}
	return x.run()
}

// claimedColumns are the columns a claim returns: store.RunColumns(true) less
// those the claim has just set to values its caller knows (status, node,
// lease, heartbeat, start and update times). RETURNING copies every
// column of every claimed row into a buffer before the first row comes
// back, and the driver converts each; six fewer of 27 is measurable at
// tens of thousands of claims a second.
const claimedColumns = `id, job_id, "trigger", scheduled_for, queue, priority, snapshot, snapshot_secret,
	attempt, max_attempts, attempts, available_at, cancel_requested, finished_at, message, error,
	traceback, result, log_size, created_at, meta`

// scanClaimed reads a row of claimedColumns: a run that node claimed at
// now (unix microseconds) with a lease until lease, as the claim's UPDATE
// wrote it.
func scanClaimed(sc scanner, node string, lease, now int64) (*connecthub.Run, error) {
	x := runRow{status: string(connecthub.StatusRunning), upd: now,
		lease:     sql.NullInt64{Int64: lease, Valid: true},
		heartbeat: sql.NullInt64{Int64: now, Valid: true},
		started:   sql.NullInt64{Int64: now, Valid: true},
	}
	x.r.Node = node
	r := &x.r
	err := sc.Scan(&r.ID, &r.JobID, &x.trigger, &x.scheduled, &r.Queue, &x.priority, &x.snap, &r.Snapshot.SecretCfg,
		&x.attempt, &x.maxAttempts, &x.attempts, &x.available, &x.cancel, &x.finished, &r.Message, &r.Error,
		&r.Traceback, &x.result, &r.LogSize, &x.created, &x.meta)
	if err != nil {
		return nil, err
	}
	return x.run()
}

// runRow holds a runs row as scanned, before its conversion to a Run: one
// allocation for every scan target rather than one each.
type runRow struct {
	r                                   connecthub.Run
	status, trigger, attempts           string
	snap                                []byte
	scheduled, available, created, upd  int64
	priority, attempt, maxAttempts      int64
	lease, heartbeat, started, finished sql.NullInt64
	cancel                              int64
	result, meta                        sql.NullString
}

// targets are the scan targets of runColumns.
func (x *runRow) targets() []any {
	r := &x.r
	return []any{&r.ID, &r.JobID, &x.status, &x.trigger, &x.scheduled, &r.Queue, &x.priority, &x.snap, &r.Snapshot.SecretCfg,
		&x.attempt, &x.maxAttempts, &x.attempts, &x.available, &r.Node, &x.lease, &x.heartbeat,
		&x.cancel, &x.started, &x.finished, &r.Message, &r.Error, &r.Traceback, &x.result, &r.LogSize,
		&x.created, &x.upd, &x.meta}
}

// run converts the scanned row.
func (x *runRow) run() (*connecthub.Run, error) {
	r := &x.r
	var err error
	if x.meta.Valid {
		r.Meta = json.RawMessage(x.meta.String)
	}
	if err := store.DecodeSnapshot(x.snap, &r.Snapshot); err != nil {
		return nil, fmt.Errorf("run %s: decode snapshot: %w", r.ID, err)
	}
	if r.Attempts, err = store.DecodeAttempts(x.attempts); err != nil {
		return nil, fmt.Errorf("run %s: %w", r.ID, err)
	}
	r.Status = connecthub.RunStatus(x.status)
	r.Trigger = connecthub.Trigger(x.trigger)
	r.ScheduledFor = fromMicros(x.scheduled)
	r.Priority = int(x.priority)
	r.Attempt = int(x.attempt)
	r.MaxAttempts = int(x.maxAttempts)
	r.AvailableAt = fromMicros(x.available)
	r.LeaseExpiresAt = timePtr(x.lease)
	r.HeartbeatAt = timePtr(x.heartbeat)
	r.CancelRequested = x.cancel != 0
	r.StartedAt = timePtr(x.started)
	r.FinishedAt = timePtr(x.finished)
	if x.result.Valid {
		r.Result = json.RawMessage(x.result.String)
	}
	r.CreatedAt = fromMicros(x.created)
	r.UpdatedAt = fromMicros(x.upd)
	r.FillDuration()
	return r, nil
}

// nullJSON stores an absent result as NULL.
func nullJSON(raw json.RawMessage) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	return string(raw)
}
