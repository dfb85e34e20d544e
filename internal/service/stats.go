package service

import (
	"context"

	"github.com/connecthub/connecthub"
)

// FillLastRuns sets each job's LastRun (its newest finished run), read in
// one call from the index of the jobs' finished runs. JobList and JobGet
// do it already; a caller holding a job from elsewhere (an update) may.
func (s *Service) FillLastRuns(ctx context.Context, jobs ...*connecthub.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	last, err := s.st.JobLastRuns(ctx, ids)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		j.LastRun = last[j.ID]
	}
	return nil
}

// JobDurationStats summarises the durations of the job's last n
// successful runs (median and p95), from the index of its finished runs:
// the cost does not grow with the job's history. n is 1..500; a job
// without successful runs gets zero statistics (Runs 0), a job that does
// not exist KindNotFound. The notifications' long-running alert compares a
// run's age with Median.
func (s *Service) JobDurationStats(ctx context.Context, jobID string, n int) (connecthub.DurationStats, error) {
	if _, err := s.st.JobGet(ctx, jobID); err != nil {
		return connecthub.DurationStats{}, err
	}
	return s.durationStats(ctx, jobID, n)
}

func (s *Service) durationStats(ctx context.Context, jobID string, n int) (connecthub.DurationStats, error) {
	ds, err := s.st.JobDurations(ctx, jobID, n)
	if err != nil {
		return connecthub.DurationStats{}, err
	}
	return connecthub.SummariseDurations(ds), nil
}

// withJobStats sets what a single job shows besides its definition: its
// last run, and the durations of its last connecthub.DefaultDurationSample
// successful runs.
func (s *Service) withJobStats(ctx context.Context, j *connecthub.Job) error {
	if err := s.FillLastRuns(ctx, j); err != nil {
		return err
	}
	d, err := s.durationStats(ctx, j.ID, connecthub.DefaultDurationSample)
	if err != nil {
		return err
	}
	j.Durations = &d
	return nil
}

// StatsRebuild recomputes the maintained run counts from the runs table
// (the repair behind `connecthub stats rebuild`).
func (s *Service) StatsRebuild(ctx context.Context) error {
	return s.st.StatsRebuild(ctx, s.now())
}

// JobsByIDs returns the jobs with the given ids, keyed by id, in one store
// call and without their last runs or duration statistics: what a page of
// runs needs to show each run in its job's time zone. Ids that name no job
// are absent.
func (s *Service) JobsByIDs(ctx context.Context, ids ...string) (map[string]*connecthub.Job, error) {
	return s.st.JobsByIDs(ctx, ids)
}
