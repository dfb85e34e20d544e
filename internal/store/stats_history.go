package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// HistoryLoader is implemented by the drivers that can write a synthetic
// history of finished runs in bulk, in their database's fastest way (one
// set-based statement per job and chunk, rather than a row at a time): the
// benchmark's history measurement and the tests of counts over a busy day
// use it. The rows are ordinary runs, so the count triggers see them as an
// importer's.
type HistoryLoader interface {
	LoadHistory(ctx context.Context, h History) error
}

// History describes a synthetic history: Runs finished runs, the i-th
// (from 0) of job Jobs[i % len(Jobs)], created and started at
// From + i*Step, finished HistoryDuration(i) later, with status
// HistoryStatus(i) and trigger cron. Their ids are ULIDs of their creation
// time, so they sort as real runs do.
type History struct {
	Jobs []*connecthub.Job
	Runs int64
	From time.Time
	Step time.Duration
	// Offset numbers the first run (i starts there), so that a history
	// can be loaded in several calls.
	Offset int64
}

// HistoryChunk is how many runs of one job a driver writes per statement.
const HistoryChunk = 200_000

// Check checks h.
func (h History) Check() error {
	switch {
	case len(h.Jobs) == 0:
		return connecthub.FieldError("jobs", "", "a history needs at least one job")
	case h.Runs < 0 || h.Offset < 0:
		return connecthub.FieldError("runs", "", "the number of runs must not be negative")
	case h.From.IsZero() || h.Step < time.Microsecond:
		return connecthub.FieldError("step", "", "a history needs a start and a step of at least a microsecond")
	}
	return nil
}

// HistoryStatus is the status of the i-th run of a synthetic history:
// 95% SUCCESS, 4% FAILURE, 1% SKIPPED, like a healthy deployment's.
func HistoryStatus(i int64) connecthub.RunStatus {
	switch m := i % 100; {
	case m < 95:
		return connecthub.StatusSuccess
	case m < 99:
		return connecthub.StatusFailure
	default:
		return connecthub.StatusSkipped
	}
}

// HistoryDuration is how long the i-th run of a synthetic history took:
// 0.1 s to 2 s.
func HistoryDuration(i int64) time.Duration {
	return time.Duration(i%20+1) * 100 * time.Millisecond
}

// HistoryFinished is when the i-th run of h finished.
func (h History) HistoryFinished(i int64) time.Time {
	return h.From.Add(time.Duration(i)*h.Step + HistoryDuration(i))
}

// HistorySQL returns the SQL expressions of a synthetic run's columns for
// a driver's set-based insert, in terms of i (the run's number, a bigint
// expression) and createdUS (its creation time in unix microseconds): the
// ULID id, the status, and the duration in microseconds. The expressions
// use only what SQLite and PostgreSQL share (||, substr, %, >>, &, CASE).
func HistorySQL(i, createdUS string) (id, status, durationUS string) {
	const alphabet = `'0123456789ABCDEFGHJKMNPQRSTVWXYZ'`
	var b strings.Builder
	digit := func(v string, shift int) {
		if b.Len() > 0 {
			b.WriteString(" || ")
		}
		fmt.Fprintf(&b, "substr(%s, CAST(((%s >> %d) & 31) + 1 AS INTEGER), 1)", alphabet, v, shift)
	}
	ms := "((" + createdUS + ") / 1000)"
	for k := 9; k >= 0; k-- { // 48 bits of milliseconds: 10 characters
		digit(ms, 5*k)
	}
	for k := 15; k >= 0; k-- { // 80 bits of "randomness": the run's number
		shift := 5 * k
		if shift >= 63 {
			b.WriteString(" || '0'")
			continue
		}
		digit("("+i+")", shift)
	}
	status = fmt.Sprintf("CASE WHEN (%[1]s) %% 100 < 95 THEN 'SUCCESS' WHEN (%[1]s) %% 100 < 99 THEN 'FAILURE' ELSE 'SKIPPED' END", i)
	durationUS = fmt.Sprintf("(((%s) %% 20) + 1) * 100000", i)
	return b.String(), status, durationUS
}

// HistorySnapshot is the snapshot every synthetic run of job carries.
func HistorySnapshot(job *connecthub.Job, at time.Time) (*connecthub.Run, string, error) {
	r := connecthub.NewRun(job, connecthub.TriggerCron, at, at, "")
	snap, err := EncodeSnapshot(r.Snapshot)
	return r, snap, err
}
