package store

import (
	"context"
	"time"

	"github.com/connecthub/connecthub"
)

// RetentionStore deletes the finished runs that a job's retention, or an
// operator's bulk delete, lets go. Deletes go through the runs table like
// any other, so the maintained counts (StatsStore) stay exact, and they
// never touch a QUEUED or RUNNING run: those are the queue, not history.
type RetentionStore interface {
	// RunPrune deletes at most Limit finished runs of JobID that
	// RetentionParams selects (see there), oldest (lowest id) first, and
	// returns how many. Busy is true, and nothing was deleted, when another
	// replica's pass holds the retention lock at that moment: passes are
	// one replica at a time, so two never fight over the same rows.
	// CheckRunPrune applies.
	RunPrune(ctx context.Context, p RunPruneParams) (RunPruneResult, error)
	// RunDeleteFinishedIDs deletes the runs named that are finished
	// (SUCCESS, FAILURE, CANCELED, SKIPPED), in one transaction, and
	// returns the ids it deleted in the order given; a run that is QUEUED,
	// RUNNING or gone is left out. At most MaxBulkBatch ids, none empty,
	// else KindInvalid.
	RunDeleteFinishedIDs(ctx context.Context, ids []string) ([]string, error)
}

// RunPruneParams selects the finished runs of one job that its retention
// lets go: those beyond its KeepRuns newest finished runs (by id, that is
// by creation; 0: no count limit), and those that finished (or, without a
// finish time, were created) before Before (zero: no age limit). QUEUED and
// RUNNING runs are never selected and never count toward KeepRuns.
type RunPruneParams struct {
	JobID    string
	KeepRuns int
	Before   time.Time
	Limit    int
}

// RunPruneResult is what one RunPrune did.
type RunPruneResult struct {
	Deleted int64
	Busy    bool
}

// Bounds of the batches retention and bulk actions work in: a statement
// deletes at most this many rows, so that it never holds locks for long
// and a pass can stop between two batches.
const (
	RetentionBatch = 500
	MaxBulkBatch   = 500
)

// CheckRunPrune checks RunPrune's parameters. A job with neither limit
// selects nothing, and asking for it is a mistake of the caller.
func CheckRunPrune(p RunPruneParams) error {
	switch {
	case p.JobID == "":
		return connecthub.FieldError("job_id", "", "job_id is required")
	case p.KeepRuns < 0:
		return connecthub.FieldError("keep_runs", "", "keep_runs must not be negative")
	case p.KeepRuns == 0 && p.Before.IsZero():
		return connecthub.FieldError("keep_runs", "", "a prune needs keep_runs or before")
	case p.Limit < 1 || p.Limit > RetentionBatch:
		return connecthub.FieldError("limit", "", "limit must be between 1 and %d", RetentionBatch)
	}
	return nil
}

// CheckRunIDs checks the ids of a bulk batch.
func CheckRunIDs(ids []string) error {
	if len(ids) > MaxBulkBatch {
		return connecthub.FieldError("ids", "", "at most %d run ids at a time", MaxBulkBatch)
	}
	for _, id := range ids {
		if id == "" {
			return connecthub.FieldError("ids", "", "a run id is empty")
		}
	}
	return nil
}

// RetentionOf decides a job's retention at now: the parameters of its
// prune (Limit RetentionBatch), and whether it has any limit at all. The
// job's keep_for wins over the server's default; a zero default (the
// setting turned off) leaves only the jobs' own limits.
func RetentionOf(j *connecthub.Job, defaultKeepFor time.Duration, now time.Time) (RunPruneParams, bool) {
	p := RunPruneParams{JobID: j.ID, KeepRuns: j.KeepRuns, Limit: RetentionBatch}
	keepFor := j.KeepFor.D()
	if keepFor <= 0 {
		keepFor = defaultKeepFor
	}
	if keepFor > 0 {
		p.Before = now.Add(-keepFor).UTC()
	}
	return p, p.KeepRuns > 0 || !p.Before.IsZero()
}

// InOrder returns the ids of ids that are in set, in the order of ids,
// each once: how a driver reports what a bulk statement touched.
func InOrder(ids []string, set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for _, id := range ids {
		if set[id] {
			out = append(out, id)
			delete(set, id)
		}
	}
	return out
}
