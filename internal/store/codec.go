package store

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/connecthub/connecthub"
)

// Row codecs shared by the drivers. The JSON columns (a run's snapshot and
// attempts history, a job's public_cfg) are written by these functions
// alone, so that a database written by one driver reads the same through
// the other, and a backup moves between them unchanged.

// UTCMicro normalises a time to what the store keeps (UTC, microseconds),
// so that values marshalled into JSON columns read back equal to the
// columns' own times.
func UTCMicro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// UTCMicroPtr is UTCMicro for an optional time.
func UTCMicroPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := UTCMicro(*t)
	return &v
}

// IDGen makes run ids: ULIDs whose time part is the run's creation time
// and whose random part increases monotonically within a millisecond, so
// ids made in one process sort in the order they were made. The zero value
// is ready to use and safe for concurrent use.
type IDGen struct {
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

// Next returns a new id for a run created at t. KindInvalid (field
// created_at) when t is outside what a ULID can hold.
func (g *IDGen) Next(t time.Time) (string, error) {
	ms := ulid.Timestamp(t)
	if t.Before(time.UnixMilli(0)) || ms > ulid.MaxTime() {
		return "", connecthub.FieldError("created_at", "", "created_at %s is outside the range of run ids", t.Format(time.RFC3339))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.entropy == nil {
		g.entropy = ulid.Monotonic(rand.Reader, 0)
	}
	id, err := ulid.New(ms, g.entropy)
	if err != nil {
		// Only a monotonic overflow (2^80 ids in one millisecond) gets here.
		return "", &connecthub.Error{Kind: connecthub.KindInternal, Code: "run_id", Message: "cannot make a run id", Err: err}
	}
	return id.String(), nil
}

// EncodeSnapshot marshals a snapshot for its column. The secret token is
// not in it (Snapshot.SecretCfg is `json:"-"`): it has its own column, so no
// read of the snapshot can leak it. Times are normalised to what columns
// keep. encoding/json escapes invalid UTF-8 and NUL, so the text is always
// storable, in PostgreSQL too.
func EncodeSnapshot(s connecthub.Snapshot) (string, error) {
	s.Meta.ScheduledFor = UTCMicro(s.Meta.ScheduledFor)
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

// EncodeAttempts marshals a run's attempts history for its column; an empty
// history is "[]", which the readers recognise without decoding.
func EncodeAttempts(a []connecthub.Attempt) (string, error) {
	if len(a) == 0 {
		return "[]", nil
	}
	norm := make([]connecthub.Attempt, len(a))
	for i, at := range a {
		at.StartedAt = UTCMicroPtr(at.StartedAt)
		at.FinishedAt = UTCMicro(at.FinishedAt)
		norm[i] = at
	}
	b, err := json.Marshal(norm)
	if err != nil {
		return "", fmt.Errorf("encode attempts: %w", err)
	}
	return string(b), nil
}

// AppendAttempt adds one attempt to a run's stored attempts history and
// returns the new column value.
func AppendAttempt[T string | []byte](history T, a connecthub.Attempt) (string, error) {
	var list []connecthub.Attempt
	if len(history) > 0 {
		if err := json.Unmarshal([]byte(history), &list); err != nil {
			return "", fmt.Errorf("decode attempts: %w", err)
		}
	}
	return EncodeAttempts(append(list, a))
}

// DecodeAttempts reads a run's attempts history column. The common empty
// history skips the decoder; the result is never nil.
func DecodeAttempts[T string | []byte](b T) ([]connecthub.Attempt, error) {
	if string(b) == "[]" {
		return []connecthub.Attempt{}, nil
	}
	var list []connecthub.Attempt
	if err := json.Unmarshal([]byte(b), &list); err != nil {
		return nil, fmt.Errorf("decode attempts: %w", err)
	}
	if list == nil {
		list = []connecthub.Attempt{}
	}
	return list, nil
}

// JobPublicCfg returns the stored form of a job's public_cfg: the JSON
// with surrounding white space trimmed, "{}" when empty. KindInvalid
// (field public_cfg) when it is not JSON. Both drivers store this form, so
// a job reads back the same whichever wrote it.
func JobPublicCfg(j *connecthub.Job) (string, error) {
	public := bytes.TrimSpace(j.PublicCfg)
	if len(public) == 0 {
		return "{}", nil
	}
	if !json.Valid(public) {
		return "", connecthub.FieldError("public_cfg", "", "public_cfg must be a JSON object")
	}
	return string(public), nil
}

// JobSecretKeys returns the stored form of a job's secret_keys: never nil,
// so that both drivers store an empty list rather than NULL or "null".
func JobSecretKeys(j *connecthub.Job) []string {
	if j.SecretKeys == nil {
		return []string{}
	}
	return j.SecretKeys
}

// HasJSON reports whether raw holds a value to store rather than NULL: an
// absent or blank result is stored as NULL.
func HasJSON(raw json.RawMessage) bool { return len(bytes.TrimSpace(raw)) > 0 }

// RunColumns lists the columns of runs that the drivers' run scanners read,
// in their order (one table, one list for both). The secret token is read
// only where it is wanted (the claim, RunSecret); elsewhere an empty string
// stands in, so that a run read for a page never carries it.
func RunColumns(withSecret bool) string {
	secret := `''`
	if withSecret {
		secret = `snapshot_secret`
	}
	return `id, job_id, status, "trigger", scheduled_for, queue, priority, snapshot, ` + secret + `,
	attempt, max_attempts, attempts, available_at, node, lease_expires_at, heartbeat_at,
	cancel_requested, started_at, finished_at, message, error, traceback, result, log_size,
	created_at, updated_at, meta`
}

// JobInts are the integer columns of a jobs row as a driver scans them
// (timeout, max_attempts, retry_backoff, misfire_window, priority,
// keep_runs, keep_for); Set turns them into the job's fields, the same way
// in both drivers.
type JobInts struct {
	Timeout, MaxAttempts, RetryBackoff, MisfireWindow, Priority, KeepRuns, KeepFor int64
}

// Set sets j's integer fields from n, and makes a missing list of secret
// keys an empty one, as every job read carries.
func (n *JobInts) Set(j *connecthub.Job) {
	j.Timeout = connecthub.Duration(n.Timeout)
	j.MaxAttempts = int(n.MaxAttempts)
	j.RetryBackoff = connecthub.Duration(n.RetryBackoff)
	j.MisfireWindow = connecthub.Duration(n.MisfireWindow)
	j.Priority = int(n.Priority)
	j.KeepRuns = int(n.KeepRuns)
	j.KeepFor = connecthub.Duration(n.KeepFor)
	if j.SecretKeys == nil {
		j.SecretKeys = []string{}
	}
}
