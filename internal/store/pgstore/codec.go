package pgstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

// dialect is how the list filters of package store write PostgreSQL.
var dialect = store.Dialect{
	Mark:   func(n int) string { return "$" + strconv.Itoa(n) },
	Text:   cleanText,
	Time:   func(t time.Time) any { return utc(t) },
	Prefix: func(col, v string) (string, []any) { return "starts_with(" + col + ", ?)", []any{v} },
	// strpos rather than LIKE: the user's % and _ are plain characters.
	// lower() folds case by the column's collation: ASCII for the id
	// (collation "C", like SQLite), the database's rules for the
	// description.
	Contains: func(col string) string { return "strpos(lower(" + col + "), lower(?)) > 0" },
	// The statuses are written as literals, so that the planner sees which
	// partial index (runs_finished, runs_job_finished) applies.
	Statuses: func(statuses []connecthub.RunStatus) (string, []any) { return statusLiterals(statuses), nil },
	// No index holds all of a job's runs (schema version 26).
	JobRunsByStatus: true,
}

// Jobs.

// jobUpdateSet assigns every column but the id from $2.. in store.JobColumns'
// order; $1 is the id.
var jobUpdateSet = func() string {
	cols := strings.Split(store.JobColumns, ",")[1:]
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = fmt.Sprintf("%s = $%d", strings.TrimSpace(c), i+2)
	}
	return strings.Join(set, ", ")
}()

// jobArgs returns the values of store.JobColumns for j, in order.
func jobArgs(j *connecthub.Job) ([]any, error) {
	public, err := store.JobPublicCfg(j)
	if err != nil {
		return nil, err
	}
	return []any{
		j.ID, j.Description, j.Enabled, j.CronExpr, j.Timezone, j.Handler, public,
		j.SecretCfg, store.JobSecretKeys(j), j.HasSecret, int64(j.Timeout), int64(j.MaxAttempts), int64(j.RetryBackoff),
		j.Concurrency, j.Misfire, int64(j.MisfireWindow), j.Queue, int64(j.Priority), utcPtr(j.LastRunAt), utcPtr(j.NextRunAt),
		utc(j.CreatedAt), utc(j.UpdatedAt), j.Calendar, j.CalendarMode,
		chainList(j.OnSuccess), chainList(j.OnFailure),
		int64(j.KeepRuns), int64(j.KeepFor),
	}, nil
}

// checkJobText rejects text PostgreSQL cannot store, with the field's name,
// before it reaches the database (whose error would name no field).
func checkJobText(j *connecthub.Job) error {
	for _, f := range []struct{ name, value string }{
		{"id", j.ID}, {"description", j.Description}, {"cron_expr", j.CronExpr}, {"timezone", j.Timezone},
		{"handler", j.Handler}, {"secret_cfg", j.SecretCfg}, {"concurrency", j.Concurrency},
		{"misfire", j.Misfire}, {"queue", j.Queue}, {"public_cfg", string(j.PublicCfg)},
		{"calendar", j.Calendar}, {"calendar_mode", j.CalendarMode},
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
		j                connecthub.Job
		n                store.JobInts
		public           []byte
		lastRun, nextRun *time.Time
	)
	err := row.Scan(&j.ID, &j.Description, &j.Enabled, &j.CronExpr, &j.Timezone, &j.Handler, &public,
		&j.SecretCfg, &j.SecretKeys, &j.HasSecret, &n.Timeout, &n.MaxAttempts, &n.RetryBackoff,
		&j.Concurrency, &j.Misfire, &n.MisfireWindow, &j.Queue, &n.Priority, &lastRun, &nextRun,
		&j.CreatedAt, &j.UpdatedAt, &j.Calendar, &j.CalendarMode, &j.OnSuccess, &j.OnFailure,
		&n.KeepRuns, &n.KeepFor)
	if err != nil {
		return nil, err
	}
	n.Set(&j)
	j.PublicCfg = json.RawMessage(public)
	j.OnSuccess, j.OnFailure = chainList(j.OnSuccess), chainList(j.OnFailure)
	j.LastRunAt = utcPtr(lastRun)
	j.NextRunAt = utcPtr(nextRun)
	j.CreatedAt = utc(j.CreatedAt)
	j.UpdatedAt = utc(j.UpdatedAt)
	return &j, nil
}

// Runs.

// scanRun scans one row of store.RunColumns into a run.
func scanRun(row pgx.Row) (*connecthub.Run, error) { return newRunScanner(false).scan(row) }

// runScanner scans rows of store.RunColumns into runs. It keeps its scan
// targets, and the list of their addresses that Scan takes, from one row
// to the next: a claim scans a thousand rows in one call, and building that
// list per row (Scan's variadic arguments move to the heap) and the targets
// that are not fields of the run cost as much garbage as the run itself.
type runScanner struct {
	r      connecthub.Run
	c      runScanCols
	dest   []any
	borrow bool
}

// runScanCols are the scan targets that are not fields of the run: nullable
// times are scanned as values, which pgx does not allocate. The snapshot
// and attempts are decoded into the run (copied) right after the scan, so
// a scanner of pgx.Rows borrows them from the driver's buffer (snapRef,
// attemptsRef) rather than copying them first; a pgx.Row closes its rows
// before Scan returns, so a scanner of one copies (snap, attempts).
type runScanCols struct {
	status, trigger                     string
	snap, attempts, result, meta        []byte
	snapRef, attemptsRef                pgtype.DriverBytes
	priority, attempt, maxAttempts      int32
	lease, heartbeat, started, finished pgtype.Timestamptz
}

// newRunScanner returns a scanner; borrow says that it scans pgx.Rows (see
// runScanCols).
func newRunScanner(borrow bool) *runScanner {
	sc := &runScanner{borrow: borrow}
	r, c := &sc.r, &sc.c
	var snap, attempts any = &c.snap, &c.attempts
	if borrow {
		snap, attempts = &c.snapRef, &c.attemptsRef
	}
	sc.dest = []any{&r.ID, &r.JobID, &c.status, &c.trigger, &r.ScheduledFor, &r.Queue, &c.priority, snap, &r.Snapshot.SecretCfg,
		&c.attempt, &c.maxAttempts, attempts, &r.AvailableAt, &r.Node, &c.lease, &c.heartbeat,
		&r.CancelRequested, &c.started, &c.finished, &r.Message, &r.Error, &r.Traceback, &c.result, &r.LogSize,
		&r.CreatedAt, &r.UpdatedAt, &c.meta}
	return sc
}

// scan scans row into a new run. pgx copies every byte slice it scans into
// a new one, except the borrowed ones, which are decoded (copied) before
// scan returns: so the run shares nothing with the next row's.
func (sc *runScanner) scan(row pgx.Row) (*connecthub.Run, error) {
	sc.r, sc.c = connecthub.Run{}, runScanCols{}
	if err := row.Scan(sc.dest...); err != nil {
		return nil, err
	}
	r := new(connecthub.Run)
	*r = sc.r
	c := &sc.c
	if sc.borrow {
		c.snap, c.attempts = c.snapRef, c.attemptsRef
	}
	var err error
	if c.meta != nil {
		r.Meta = json.RawMessage(c.meta)
	}
	if err := store.DecodeSnapshot(c.snap, &r.Snapshot); err != nil {
		return nil, fmt.Errorf("run %s: decode snapshot: %w", r.ID, err)
	}
	r.Snapshot.Meta.ScheduledFor = utc(r.Snapshot.Meta.ScheduledFor)
	if r.Attempts, err = store.DecodeAttempts(c.attempts); err != nil {
		return nil, fmt.Errorf("run %s: %w", r.ID, err)
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

// nullJSON stores an absent result as NULL.
func nullJSON(raw json.RawMessage) *string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	s := string(raw)
	return &s
}
