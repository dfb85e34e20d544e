package pyimport

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/connecthub/connecthub"
)

// ExportResult is what the export did with one ConnectHub job.
type ExportResult struct {
	ID        string     `json:"id"`
	Enabled   bool       `json:"enabled"`
	LastRunAt *time.Time `json:"last_run_at"`
	// Written is false for a job the old database does not have.
	Written bool `json:"written"`
}

// JobLister pages through ConnectHub's jobs; the store implements it.
type JobLister interface {
	JobList(ctx context.Context, p connecthub.JobFilter) ([]*connecthub.Job, string, error)
}

// Export writes each ConnectHub job's enabled and last_run_at back to the
// old database's row of the same id, so that the old beat, started again
// for a rollback, runs what ConnectHub ran as enabled and does not fire a
// slot ConnectHub already fired. A job without last_run_at leaves the old
// one as it is; jobs the old database does not have are reported, not
// created. dryRun only reports.
func Export(ctx context.Context, src *Source, jobs JobLister, dryRun bool) ([]ExportResult, error) {
	var out []ExportResult
	cursor := ""
	for {
		page, next, err := jobs.JobList(ctx, connecthub.JobFilter{Cursor: cursor, Limit: 500})
		if err != nil {
			return out, fmt.Errorf("list jobs: %w", err)
		}
		for _, j := range page {
			r := ExportResult{ID: j.ID, Enabled: j.Enabled, LastRunAt: j.LastRunAt}
			if dryRun {
				r.Written, err = src.HasJob(ctx, j.ID)
			} else {
				r.Written, err = src.WriteBack(ctx, j.ID, j.Enabled, j.LastRunAt)
			}
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// ExportText writes the export's results for people.
func ExportText(w io.Writer, results []ExportResult, dryRun bool) {
	written := 0
	for _, r := range results {
		last := "-"
		if r.LastRunAt != nil {
			last = r.LastRunAt.In(Shanghai).Format(time.RFC3339)
		}
		state := "written"
		if dryRun {
			state = "would write"
		}
		if !r.Written {
			state = "not in the old database"
		} else {
			written++
		}
		fmt.Fprintf(w, "%-24s %s  enabled=%v last_run_at=%s\n", state, r.ID, r.Enabled, last)
	}
	verb := "wrote"
	if dryRun {
		verb = "would write"
	}
	fmt.Fprintf(w, "export: %s enabled and last_run_at of %d of %d jobs to the old database\n", verb, written, len(results))
}
