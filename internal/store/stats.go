package store

import (
	"context"
	"time"

	"github.com/connecthub/connecthub"
)

// StatsStore keeps the counts of finished runs that Stats, the metrics and
// the dashboard read instead of counting history, and answers the per-job
// reads a jobs list and a job page need, each from an index.
//
// The counts are maintained by the database itself (triggers), in the
// transaction of every insert, status change and delete of a run, whatever
// the path: so they are exact on every replica, including after a job's
// delete cascades to its runs or a bulk insert of finished runs. Only
// finished runs (SUCCESS, FAILURE, CANCELED, SKIPPED) are counted; QUEUED
// and RUNNING are the small active set, counted from its indexes.
type StatsStore interface {
	// RunCounts returns the counts of finished runs: per job and status
	// (every run there is), and per UTC hour of finished_at and status for
	// the hours at or after since (since is truncated to its hour). Hours
	// more than HourlyRetention before the last StatsCompact's now may have
	// been pruned. Jobs and hours without finished runs are absent; a
	// status absent from a job's or an hour's map counts 0.
	RunCounts(ctx context.Context, since time.Time) (*RunCounts, error)
	// StatsRebuild recomputes every count from the runs table, in one
	// transaction that writers to runs wait for, so the result is exact
	// even while runs are being written: the repair for counts that a bug
	// or a manual edit of the database put wrong. Hours before
	// now-HourlyRetention are not rebuilt.
	StatsRebuild(ctx context.Context, now time.Time) error
	// StatsCompact is the maintenance of the counts, which any replica may
	// run at any time: it folds what the writers recorded since the last
	// pass into the counts (where a driver records changes apart, to spare
	// writers a hot row), drops counts that reached zero, and prunes the
	// hours before now-HourlyRetention. The counts read the same before
	// and after it.
	StatsCompact(ctx context.Context, now time.Time) error
	// JobLastRuns returns the newest finished run (by id, so by creation)
	// of each of the jobs named, by job id; a job without a finished run,
	// or that does not exist, is absent. At most MaxPageLimit ids, else
	// KindInvalid.
	JobLastRuns(ctx context.Context, jobIDs []string) (map[string]*connecthub.RunSummary, error)
	// JobDurations returns the durations (finished_at - started_at) of the
	// job's last n successful runs, newest first (fewer when it has fewer;
	// none for a job that does not exist). n is 1..MaxPageLimit, else
	// KindInvalid.
	JobDurations(ctx context.Context, jobID string, n int) ([]time.Duration, error)
}

// HourlyRetention is how long hourly counts are kept: twice the
// dashboard's 24-hour window, so a day's hours are there whatever the time
// of the last maintenance pass.
const HourlyRetention = 48 * time.Hour

// RunCounts are maintained counts of finished runs.
type RunCounts struct {
	// ByJob counts each job's finished runs by status.
	ByJob map[string]map[connecthub.RunStatus]int64
	// ByHour counts finished runs by the UTC hour of their finished_at
	// (their created_at when they have none), then by status.
	ByHour map[time.Time]map[connecthub.RunStatus]int64
}

// NewRunCounts returns empty counts, ready for Add.
func NewRunCounts() *RunCounts {
	return &RunCounts{
		ByJob:  map[string]map[connecthub.RunStatus]int64{},
		ByHour: map[time.Time]map[connecthub.RunStatus]int64{},
	}
}

// AddJob adds n runs of status to job; a zero n changes nothing, so that
// absent means zero.
func (c *RunCounts) AddJob(job string, status connecthub.RunStatus, n int64) {
	addCount(c.ByJob, job, status, n)
}

// AddHour adds n runs of status to the hour of t (UTC).
func (c *RunCounts) AddHour(t time.Time, status connecthub.RunStatus, n int64) {
	addCount(c.ByHour, t.UTC().Truncate(time.Hour), status, n)
}

func addCount[K comparable](m map[K]map[connecthub.RunStatus]int64, k K, status connecthub.RunStatus, n int64) {
	if n == 0 {
		return
	}
	byStatus := m[k]
	if byStatus == nil {
		byStatus = map[connecthub.RunStatus]int64{}
		m[k] = byStatus
	}
	byStatus[status] += n
	if byStatus[status] == 0 {
		delete(byStatus, status)
		if len(byStatus) == 0 {
			delete(m, k)
		}
	}
}

// Totals sums ByJob by status.
func (c *RunCounts) Totals() map[connecthub.RunStatus]int64 {
	out := map[connecthub.RunStatus]int64{}
	for _, byStatus := range c.ByJob {
		for st, n := range byStatus {
			out[st] += n
		}
	}
	return out
}

// Since sums ByHour over the hours at or after since, by status.
func (c *RunCounts) Since(since time.Time) map[connecthub.RunStatus]int64 {
	since = since.UTC().Truncate(time.Hour)
	out := map[connecthub.RunStatus]int64{}
	for h, byStatus := range c.ByHour {
		if h.Before(since) {
			continue
		}
		for st, n := range byStatus {
			out[st] += n
		}
	}
	return out
}

// CheckJobIDs checks the ids of a JobLastRuns call.
func CheckJobIDs(ids []string) error {
	if len(ids) > MaxPageLimit {
		return connecthub.FieldError("job_ids", "", "at most %d job ids at once, got %d", MaxPageLimit, len(ids))
	}
	return nil
}

// CheckDurationSample checks the n of a JobDurations call.
func CheckDurationSample(n int) error {
	if n < 1 || n > MaxPageLimit {
		return connecthub.FieldError("n", "", "the number of runs must be 1..%d, got %d", MaxPageLimit, n)
	}
	return nil
}

// StatsTimes checks the time a Stats, StatsRebuild or StatsCompact call
// depends on and returns the first hour still kept.
func StatsTimes(now time.Time) (time.Time, error) {
	if now.IsZero() {
		return time.Time{}, connecthub.FieldError("now", "", "the time is required")
	}
	return now.UTC().Truncate(time.Hour).Add(-HourlyRetention), nil
}

// NewStats returns the Stats a driver fills for now: every status at 0 in
// Runs, every finished status at 0 in Runs24h, Since24h set, empty Queues
// and Nodes.
func NewStats(now time.Time) *connecthub.Stats {
	st := &connecthub.Stats{
		Runs:     make(map[connecthub.RunStatus]int64, len(connecthub.AllStatuses)),
		Runs24h:  map[connecthub.RunStatus]int64{},
		Since24h: connecthub.Stats24hSince(now),
		Queues:   []connecthub.QueueStats{},
		Nodes:    map[string]int64{},
	}
	for _, status := range connecthub.AllStatuses {
		st.Runs[status] = 0
		if status.Terminal() {
			st.Runs24h[status] = 0
		}
	}
	return st
}

// FinishStats derives what a driver read into st from the rest:
// ActiveNodes from Nodes.
func FinishStats(st *connecthub.Stats) {
	st.ActiveNodes = st.Nodes[connecthub.NodeActive] + st.Nodes[connecthub.NodeActivating]
}
