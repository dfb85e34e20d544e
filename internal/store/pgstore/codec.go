package pgstore

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/oklog/ulid/v2"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Times go to timestamptz columns, which keep microseconds; pgx truncates
// the nanoseconds the same way time.UnixMicro does (what the SQLite driver
// stores), so both drivers agree to the microsecond. Values read back are
// turned to UTC, as the contract promises.

func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
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

// cleanText makes a string storable in a PostgreSQL text column, which
// accepts neither NUL bytes nor invalid UTF-8: each becomes U+FFFD. It is
// applied to what handlers produce (messages, errors, tracebacks), so that
// one odd byte in one run's output cannot fail a whole batch of
// completions. Valid text passes unchanged (and without a copy).
func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
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
	if t.Before(time.UnixMilli(0)) || ulid.Timestamp(t) > ulid.MaxTime() {
		return "", connecthub.FieldError("created_at", "", "created_at %s is outside the range of run ids", t.Format(time.RFC3339))
	}
	id, err := ulid.New(ulid.Timestamp(t), g.entropy)
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

// jobUpdateSet assigns every column but the id from $2.. in jobColumns'
// order; $1 is the id.
var jobUpdateSet = func() string {
	cols := strings.Split(jobColumns, ",")[1:]
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = fmt.Sprintf("%s = $%d", strings.TrimSpace(c), i+2)
	}
	return strings.Join(set, ", ")
}()

// jobArgs returns the values of jobColumns for j, in order.
func jobArgs(j *connecthub.Job) ([]any, error) {
	public := bytes.TrimSpace(j.PublicCfg)
	if len(public) == 0 {
		public = []byte("{}")
	} else if !json.Valid(public) {
		return nil, connecthub.FieldError("public_cfg", "", "public_cfg must be a JSON object")
	}
	keys := j.SecretKeys
	if keys == nil {
		keys = []string{}
	}
	return []any{
		j.ID, j.Description, j.Enabled, j.CronExpr, j.Timezone, j.Handler, string(public),
		j.SecretCfg, keys, j.HasSecret, int64(j.Timeout), int64(j.MaxAttempts), int64(j.RetryBackoff),
		j.Concurrency, j.Misfire, int64(j.MisfireWindow), j.Queue, int64(j.Priority), utcPtr(j.LastRunAt), utcPtr(j.NextRunAt),
		utc(j.CreatedAt), utc(j.UpdatedAt),
	}, nil
}

// checkJobText rejects text PostgreSQL cannot store, with the field's name,
// before it reaches the database (whose error would name no field).
func checkJobText(j *connecthub.Job) error {
	for _, f := range []struct{ name, value string }{
		{"id", j.ID}, {"description", j.Description}, {"cron_expr", j.CronExpr}, {"timezone", j.Timezone},
		{"handler", j.Handler}, {"secret_cfg", j.SecretCfg}, {"concurrency", j.Concurrency},
		{"misfire", j.Misfire}, {"queue", j.Queue}, {"public_cfg", string(j.PublicCfg)},
	} {
		if cleanText(f.value) != f.value {
			return connecthub.FieldError(f.name, "", "%s must be UTF-8 text without NUL characters", f.name)
		}
	}
	for _, k := range j.SecretKeys {
		if cleanText(k) != k {
			return connecthub.FieldError("secret_keys", "", "secret_keys must be UTF-8 text without NUL characters")
		}
	}
	return nil
}

func scanJob(row pgx.Row) (*connecthub.Job, error) {
	var (
		j                                    connecthub.Job
		public                               []byte
		timeout, retryBackoff, misfireWindow int64
		maxAttempts, priority                int32
		lastRun, nextRun                     *time.Time
	)
	err := row.Scan(&j.ID, &j.Description, &j.Enabled, &j.CronExpr, &j.Timezone, &j.Handler, &public,
		&j.SecretCfg, &j.SecretKeys, &j.HasSecret, &timeout, &maxAttempts, &retryBackoff,
		&j.Concurrency, &j.Misfire, &misfireWindow, &j.Queue, &priority, &lastRun, &nextRun,
		&j.CreatedAt, &j.UpdatedAt)
	if err != nil {
		return nil, err
	}
	j.PublicCfg = json.RawMessage(public)
	if j.SecretKeys == nil {
		j.SecretKeys = []string{}
	}
	j.Timeout = connecthub.Duration(timeout)
	j.MaxAttempts = int(maxAttempts)
	j.RetryBackoff = connecthub.Duration(retryBackoff)
	j.MisfireWindow = connecthub.Duration(misfireWindow)
	j.Priority = int(priority)
	j.LastRunAt = utcPtr(lastRun)
	j.NextRunAt = utcPtr(nextRun)
	j.CreatedAt = utc(j.CreatedAt)
	j.UpdatedAt = utc(j.UpdatedAt)
	return &j, nil
}

// Runs.

// runColumns lists the columns scanRun reads. The secret token is read only
// where it is wanted (claim, RunSecret); elsewhere its slot is empty.
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

func scanRun(row pgx.Row) (*connecthub.Run, error) {
	r := new(connecthub.Run)
	// The scan targets that are not fields of the run live in one struct,
	// so that they cost one allocation rather than one each (Scan takes
	// their addresses as interfaces, which moves them to the heap), and
	// nullable times are scanned as values, which pgx does not allocate.
	var c struct {
		status, trigger                     string
		snap, attempts, result              []byte
		priority, attempt, maxAttempts      int32
		lease, heartbeat, started, finished pgtype.Timestamptz
	}
	err := row.Scan(&r.ID, &r.JobID, &c.status, &c.trigger, &r.ScheduledFor, &r.Queue, &c.priority, &c.snap, &r.Snapshot.SecretCfg,
		&c.attempt, &c.maxAttempts, &c.attempts, &r.AvailableAt, &r.Node, &c.lease, &c.heartbeat,
		&r.CancelRequested, &c.started, &c.finished, &r.Message, &r.Error, &r.Traceback, &c.result, &r.LogSize,
		&r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if err := store.DecodeSnapshot(c.snap, &r.Snapshot); err != nil {
		return nil, fmt.Errorf("run %s: decode snapshot: %w", r.ID, err)
	}
	r.Snapshot.Meta.ScheduledFor = utc(r.Snapshot.Meta.ScheduledFor)
	if string(c.attempts) == "[]" {
		r.Attempts = []connecthub.Attempt{} // most runs: skip the decoder
	} else if err := json.Unmarshal(c.attempts, &r.Attempts); err != nil {
		return nil, fmt.Errorf("run %s: decode attempts: %w", r.ID, err)
	}
	if r.Attempts == nil {
		r.Attempts = []connecthub.Attempt{}
	}
	for i := range r.Attempts {
		a := &r.Attempts[i]
		a.StartedAt = utcPtr(a.StartedAt)
		a.FinishedAt = utc(a.FinishedAt)
	}
	r.Status = connecthub.RunStatus(c.status)
	r.Trigger = connecthub.Trigger(c.trigger)
	r.ScheduledFor = utc(r.ScheduledFor)
	r.Priority = int(c.priority)
	r.Attempt = int(c.attempt)
	r.MaxAttempts = int(c.maxAttempts)
	r.AvailableAt = utc(r.AvailableAt)
	for _, t := range []struct {
		dst **time.Time
		src pgtype.Timestamptz
	}{{&r.LeaseExpiresAt, c.lease}, {&r.HeartbeatAt, c.heartbeat}, {&r.StartedAt, c.started}, {&r.FinishedAt, c.finished}} {
		if *t.dst, err = nullableTime(t.src); err != nil {
			return nil, fmt.Errorf("run %s: %w", r.ID, err)
		}
	}
	if c.result != nil {
		r.Result = json.RawMessage(c.result)
	}
	r.CreatedAt = utc(r.CreatedAt)
	r.UpdatedAt = utc(r.UpdatedAt)
	r.FillDuration()
	return r, nil
}

// nullableTime returns the time of a nullable timestamptz column in UTC, or
// nil for NULL. Like a scan into *time.Time, it refuses the infinities,
// which no time.Time holds.
func nullableTime(t pgtype.Timestamptz) (*time.Time, error) {
	switch {
	case !t.Valid:
		return nil, nil
	case t.InfinityModifier != pgtype.Finite:
		return nil, fmt.Errorf("cannot read timestamp %s as a time", t.InfinityModifier)
	}
	v := t.Time.UTC()
	return &v, nil
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
	// encoding/json escapes invalid UTF-8 as U+FFFD and NUL as \u0000, so
	// the text is always storable in a json column.
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

// appendAttempt adds one attempt to a run's JSON attempts history.
func appendAttempt(history []byte, a connecthub.Attempt) (string, error) {
	var list []connecthub.Attempt
	if len(history) > 0 {
		if err := json.Unmarshal(history, &list); err != nil {
			return "", fmt.Errorf("decode attempts: %w", err)
		}
	}
	return encodeAttempts(append(list, a))
}

// nullJSON stores an absent result as NULL.
func nullJSON(raw json.RawMessage) *string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	s := string(raw)
	return &s
}
