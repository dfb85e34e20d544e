package connecthub

import (
	"sort"
	"time"
)

// RunSummary is what a job shows of its newest finished run: enough to
// link to it and to say how it ended.
type RunSummary struct {
	ID         string     `json:"id"`
	Status     RunStatus  `json:"status"`
	Trigger    Trigger    `json:"trigger"`
	FinishedAt *time.Time `json:"finished_at"`
}

// DurationStats summarises how long a job's last successful runs took
// (from started_at to finished_at): Runs is how many were measured (at
// most the number asked for; 0 when the job has none), Median and P95 the
// nearest-rank median and 95th percentile.
type DurationStats struct {
	Runs   int      `json:"runs"`
	Median Duration `json:"median"`
	P95    Duration `json:"p95"`
}

// DefaultDurationSample is how many of a job's last successful runs its
// duration statistics cover.
const DefaultDurationSample = 20

// SummariseDurations returns the statistics of ds (in any order); zero
// values when ds is empty. Percentiles are nearest-rank: the smallest
// duration at or above which the given share of ds lies, so each is one
// of the measured durations.
func SummariseDurations(ds []time.Duration) DurationStats {
	if len(ds) == 0 {
		return DurationStats{}
	}
	sorted := append([]time.Duration(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return DurationStats{
		Runs:   len(sorted),
		Median: Duration(nearestRank(sorted, 50)),
		P95:    Duration(nearestRank(sorted, 95)),
	}
}

// nearestRank is the p-th percentile of sorted by the nearest-rank method:
// the value at rank ceil(p/100 * n).
func nearestRank(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// Stats24hSince is the start of the dashboard's 24-hour window at now: the
// start of the UTC hour 23 hours before now's, so that the window is the
// current hour and the 23 whole hours before it.
func Stats24hSince(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(-23 * time.Hour)
}
