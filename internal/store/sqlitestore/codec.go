package sqlitestore

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

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

// utcMicro normalises a time to what the store keeps, so that values that
// are marshalled into JSON columns (snapshot meta, attempts) read back equal
// to the columns' times.
func utcMicro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func utcMicroPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := utcMicro(*t)
	return &v
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

// idGen makes run ids: ULIDs whose time part is the run's creation time and
// whose random part increases monotonically within a millisecond, so ids
// made in one process sort in the order they were made.
type idGen struct {
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

func (g *idGen) next(t time.Time) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.entropy == nil {
		g.entropy = ulid.Monotonic(rand.Reader, 0)
	}
	ms := ulid.Timestamp(t)
	if t.Before(time.UnixMilli(0)) || ms > ulid.MaxTime() {
		return "", connecthub.FieldError("created_at", "", "created_at %s is outside the range of run ids", t.Format(time.RFC3339))
	}
	id, err := ulid.New(ms, g.entropy)
	if err != nil {
		// Only a monotonic overflow (2^80 ids in one millisecond) gets here.
		return "", &connecthub.Error{Kind: connecthub.KindInternal, Code: "run_id", Message: "cannot make a run id", Err: err}
	}
	return id.String(), nil
}

// Jobs.

const jobColumns = `id, description, enabled, cron_expr, timezone, handler, public_cfg,
	secret_cfg, secret_keys, has_secret, timeout_ns, max_attempts, retry_backoff_ns,
	concurrency, misfire, misfire_window_ns, queue, priority, last_run_at, next_run_at,
	created_at, updated_at`

// jobArgs returns the values of jobColumns for j, in order.
func jobArgs(j *connecthub.Job) ([]any, error) {
	public := []byte(j.PublicCfg)
	if len(bytes.TrimSpace(public)) == 0 {
		public = []byte("{}")
	} else if !json.Valid(public) {
		return nil, connecthub.FieldError("public_cfg", "", "public_cfg must be a JSON object")
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
		j.ID, j.Description, boolInt(j.Enabled), j.CronExpr, j.Timezone, j.Handler, string(public),
		j.SecretCfg, string(secretKeys), boolInt(j.HasSecret), int64(j.Timeout), int64(j.MaxAttempts), int64(j.RetryBackoff),
		j.Concurrency, j.Misfire, int64(j.MisfireWindow), j.Queue, int64(j.Priority), nullMicros(j.LastRunAt), nullMicros(j.NextRunAt),
		micros(j.CreatedAt), micros(j.UpdatedAt),
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
	)
	err := sc.Scan(&j.ID, &j.Description, &enabled, &j.CronExpr, &j.Timezone, &j.Handler, &public,
		&j.SecretCfg, &secretKeys, &hasSecret, &timeout, &maxAtt, &retryBackoff,
		&j.Concurrency, &j.Misfire, &misfireWindow, &j.Queue, &priority, &lastRun, &nextRun,
		&created, &updated)
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
	j.LastRunAt = timePtr(lastRun)
	j.NextRunAt = timePtr(nextRun)
	j.CreatedAt = fromMicros(created)
	j.UpdatedAt = fromMicros(updated)
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
	created_at, updated_at`
}

const runInsertColumns = `id, job_id, status, "trigger", scheduled_for, queue, priority, handler,
	snapshot, snapshot_secret, attempt, max_attempts, attempts, available_at, node,
	lease_expires_at, heartbeat_at, cancel_requested, started_at, finished_at, message,
	error, traceback, result, created_at, updated_at`

const runInsertColumnCount = 26

// runInsertArgs appends the values of runInsertColumns for r to args.
func runInsertArgs(args []any, r *connecthub.Run) ([]any, error) {
	snap, err := encodeSnapshot(r.Snapshot)
	if err != nil {
		return nil, err
	}
	attempts, err := encodeAttempts(r.Attempts)
	if err != nil {
		return nil, err
	}
	return append(args,
		r.ID, r.JobID, string(r.Status), string(r.Trigger), micros(r.ScheduledFor), r.Queue, int64(r.Priority), r.Snapshot.Handler,
		snap, r.Snapshot.SecretCfg, int64(r.Attempt), int64(r.MaxAttempts), attempts, micros(r.AvailableAt), r.Node,
		nullMicros(r.LeaseExpiresAt), nullMicros(r.HeartbeatAt), boolInt(r.CancelRequested), nullMicros(r.StartedAt), nullMicros(r.FinishedAt), r.Message,
		r.Error, r.Traceback, nullJSON(r.Result), micros(r.CreatedAt), micros(r.UpdatedAt),
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
		result                              sql.NullString
	)
	err := sc.Scan(&r.ID, &r.JobID, &status, &trigger, &scheduled, &r.Queue, &priority, &snap, &r.Snapshot.SecretCfg,
		&attempt, &maxAttempts, &attempts, &available, &r.Node, &lease, &heartbeat,
		&cancel, &started, &finished, &r.Message, &r.Error, &r.Traceback, &result, &r.LogSize,
		&created, &upd)
	if err != nil {
		return nil, err
	}
	if err := store.DecodeSnapshot(snap, &r.Snapshot); err != nil {
		return nil, fmt.Errorf("run %s: decode snapshot: %w", r.ID, err)
	}
	if attempts == "[]" {
		r.Attempts = []connecthub.Attempt{} // most runs: skip the decoder
	} else if err := json.Unmarshal([]byte(attempts), &r.Attempts); err != nil {
		return nil, fmt.Errorf("run %s: decode attempts: %w", r.ID, err)
	}
	if r.Attempts == nil {
		r.Attempts = []connecthub.Attempt{}
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

// encodeSnapshot marshals a snapshot for its column. The secret token is not
// in it (Snapshot.SecretCfg is `json:"-"`): it has its own column, so no read
// of the snapshot can leak it. Times are normalised to what columns keep.
func encodeSnapshot(s connecthub.Snapshot) (string, error) {
	s.Meta.ScheduledFor = utcMicro(s.Meta.ScheduledFor)
	if len(bytes.TrimSpace(s.PublicCfg)) == 0 {
		s.PublicCfg = nil
	} else if !json.Valid(s.PublicCfg) {
		return "", connecthub.FieldError("snapshot_params.public_cfg", "invalid_public_cfg", "public_cfg must be a JSON object")
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode snapshot: %w", err)
	}
	return string(b), nil
}

func encodeAttempts(a []connecthub.Attempt) (string, error) {
	if len(a) == 0 {
		return "[]", nil
	}
	norm := make([]connecthub.Attempt, len(a))
	for i, at := range a {
		at.StartedAt = utcMicroPtr(at.StartedAt)
		at.FinishedAt = utcMicro(at.FinishedAt)
		norm[i] = at
	}
	b, err := json.Marshal(norm)
	if err != nil {
		return "", fmt.Errorf("encode attempts: %w", err)
	}
	return string(b), nil
}

// nullJSON stores an absent result as NULL.
func nullJSON(raw json.RawMessage) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	return string(raw)
}
