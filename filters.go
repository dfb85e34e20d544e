package connecthub

import "time"

// The list filters are domain types, so that a transport (the REST API, the
// admin UI) asks the service for a page of jobs or runs in the domain's own
// terms and never builds a storage layer's parameters. The store takes them
// as they are.

// JobFilter selects and pages a list of jobs, in order of id.
type JobFilter struct {
	// Query matches a substring of the id or description, case-insensitively.
	Query string
	// Enabled, when not nil, keeps only jobs whose enabled flag equals it.
	Enabled *bool
	// Handler, when not empty, keeps only jobs that run this handler.
	Handler string
	// Limit is the page size: 1..500, 0 means 50.
	Limit int
	// Cursor continues a previous page; empty starts at the first one.
	Cursor string
}

// RunFilter selects and pages a list of runs, newest first.
type RunFilter struct {
	// JobID, when not empty, keeps only the runs of this job.
	JobID string
	// Status, when not empty, keeps only runs in one of these states.
	Status []RunStatus
	// Trigger, when not empty, keeps only runs started this way.
	Trigger Trigger
	// Since keeps runs created at or after it; nil means no lower bound.
	Since *time.Time
	// Until keeps runs created before it; nil means no upper bound.
	Until *time.Time
	// Limit is the page size: 1..500, 0 means 50.
	Limit int
	// Cursor continues a previous page; empty starts at the first one.
	Cursor string
}

// RunLogChunk is a piece of a run's log, read from a byte offset.
type RunLogChunk struct {
	// Data is the text read, possibly empty when nothing new was written.
	Data string
	// Next is the offset to read from next time.
	Next int64
	// Status is the run's status when the chunk was read, so a reader
	// following the log knows when to stop.
	Status RunStatus
}
