package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/connecthub/connecthub"
)

// Input preparation shared by the drivers: the checks and defaults that do
// not depend on the database, written once so that SQLite and PostgreSQL
// accept exactly the same input.

// PrepareRun checks a run about to be inserted and returns the row to insert: a
// copy of r with the defaults filled in (r itself is not changed; the caller
// copies the id back once the row is committed). Both drivers use it, so
// they accept and default exactly the same runs.
func PrepareRun(r *connecthub.Run) (*connecthub.Run, error) {
	if r == nil {
		return nil, connecthub.Errorf(connecthub.KindInvalid, "run is required")
	}
	c := *r
	switch {
	case c.JobID == "":
		return nil, connecthub.FieldError("job_id", "", "job_id is required")
	case !c.Status.Valid():
		return nil, connecthub.FieldError("status", "", "unknown run status %q", c.Status)
	case !c.Trigger.Valid():
		return nil, connecthub.FieldError("trigger", "", "unknown trigger %q", c.Trigger)
	case c.Queue == "":
		return nil, connecthub.FieldError("queue", "", "queue is required")
	case c.CreatedAt.IsZero():
		// Ids are made from the creation time; a zero one is a caller bug.
		return nil, connecthub.FieldError("created_at", "", "created_at is required")
	case c.Attempt < 1:
		return nil, connecthub.FieldError("attempt", "", "attempt must be at least 1")
	case c.MaxAttempts < c.Attempt:
		return nil, connecthub.FieldError("max_attempts", "", "max_attempts must be at least attempt (%d)", c.Attempt)
	case len(c.Result) > 0 && !json.Valid(c.Result):
		return nil, connecthub.FieldError("result", "", "result must be valid JSON")
	}
	// The defaults of docs/api.md: scheduled_for is the enqueue time unless
	// it is a cron slot; a run is available as soon as it exists.
	if c.ScheduledFor.IsZero() {
		c.ScheduledFor = c.CreatedAt
	}
	if c.AvailableAt.IsZero() {
		c.AvailableAt = c.CreatedAt
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	return &c, nil
}

// ValidPresentState reports whether s is a node present state.
func ValidPresentState(s string) bool {
	switch s {
	case connecthub.NodeActivating, connecthub.NodeActive, connecthub.NodeDeactivating, connecthub.NodeInactive:
		return true
	}
	return false
}

// BadPresentState is the error for a present state that is not one.
func BadPresentState(s string) error {
	return connecthub.FieldError("present_state", "", "present_state must be %s, %s, %s or %s, not %q",
		connecthub.NodeActivating, connecthub.NodeActive, connecthub.NodeDeactivating, connecthub.NodeInactive, s)
}

// EncodeNodeDocs marshals a node's lists and labels for their JSON columns;
// nil ones are stored empty. A handler's config schema must be JSON.
// encoding/json escapes NUL and invalid UTF-8, so the text is always
// storable, in PostgreSQL too.
func EncodeNodeDocs(n *connecthub.Node) (queues, handlers, labels string, err error) {
	for i, h := range n.Handlers {
		if len(h.ConfigSchema) > 0 && !json.Valid(h.ConfigSchema) {
			return "", "", "", connecthub.FieldError("handlers", "", "handler %d (%q): config_schema is not valid JSON", i, h.Name)
		}
	}
	q, hs, l := any(n.Queues), any(n.Handlers), any(n.Labels)
	if n.Queues == nil {
		q = []string{}
	}
	if n.Handlers == nil {
		hs = []connecthub.NodeHandler{}
	}
	if n.Labels == nil {
		l = map[string]string{}
	}
	var out [3]string
	for i, v := range []any{q, hs, l} {
		b, err := json.Marshal(v)
		if err != nil {
			return "", "", "", fmt.Errorf("encode node %s: %w", n.Name, err)
		}
		out[i] = string(b)
	}
	return out[0], out[1], out[2], nil
}

// HeartbeatAnswer builds a RunHeartbeat result in the caller's order from
// the ids the node still holds and those of them with a cancel request:
// every other id (rescued, finished, deleted, or of another attempt) is
// lost. Empty and repeated ids are answered once.
func HeartbeatAnswer(ids []string, held, cancel map[string]bool) RunHeartbeatResult {
	var res RunHeartbeatResult
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		switch {
		case !held[id]:
			res.Lost = append(res.Lost, id)
		case cancel[id]:
			res.CancelRequested = append(res.CancelRequested, id)
		}
	}
	return res
}

// PrepareRuns prepares a RunInsert batch: each run through PrepareRun, with
// an id from ids when it has none. It reports whether any run is QUEUED
// (the driver then publishes TopicRuns). A bad run fails the whole batch.
func PrepareRuns(runs []*connecthub.Run, ids *IDGen) (rows []*connecthub.Run, queued bool, err error) {
	rows = make([]*connecthub.Run, len(runs))
	for i, r := range runs {
		c, err := PrepareRun(r)
		if err != nil {
			return nil, false, err
		}
		if c.ID == "" {
			if c.ID, err = ids.Next(c.CreatedAt); err != nil {
				return nil, false, err
			}
		}
		queued = queued || c.Status == connecthub.StatusQueued
		rows[i] = c
	}
	return rows, queued, nil
}

// InsertRuns is RunInsert's rule, written once: an empty batch writes
// nothing; otherwise the runs are prepared (PrepareRuns) and write inserts
// the prepared rows, all or none, returning its error mapped (a foreign
// key violation as KindNotFound, a unique one as KindConflict). A run
// naming no job fails the batch with RunJobMissing, a taken id or cron
// slot with RunExists. On success every run gets its id, and queued tells
// the driver to publish TopicRuns.
func InsertRuns(runs []*connecthub.Run, ids *IDGen, write func(rows []*connecthub.Run, queued bool) error) (queued bool, err error) {
	if len(runs) == 0 {
		return false, nil
	}
	rows, queued, err := PrepareRuns(runs, ids)
	if err != nil {
		return false, err
	}
	err = write(rows, queued)
	switch {
	case connecthub.IsKind(err, connecthub.KindNotFound):
		return false, RunJobMissing(rows, err)
	case connecthub.IsKind(err, connecthub.KindConflict):
		return false, RunExists(err)
	case err != nil:
		return false, err
	}
	for i, r := range runs {
		r.ID = rows[i].ID
	}
	return queued, nil
}

// RunJobMissing is RunInsert's error when the database refused the batch
// because a run's job does not exist (a foreign key violation).
func RunJobMissing(rows []*connecthub.Run, err error) error {
	return &connecthub.Error{Kind: connecthub.KindNotFound, Code: "not_found",
		Message: fmt.Sprintf("job %s not found", jobsOf(rows)), Err: err}
}

// RunExists is RunInsert's error when the database refused the batch
// because a run id, or a cron slot, is taken (a unique violation).
func RunExists(err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "run_exists",
		Message: "a run with this id, or a cron run for this slot, already exists", Err: err}
}

// jobsOf names the job(s) of a batch for an error message: at most three.
func jobsOf(rows []*connecthub.Run) string {
	seen := map[string]bool{}
	var ids []string
	for _, r := range rows {
		if !seen[r.JobID] {
			seen[r.JobID] = true
			ids = append(ids, strconv.Quote(r.JobID))
		}
	}
	if len(ids) > 3 {
		ids = append(ids[:3], "...")
	}
	return strings.Join(ids, ", ")
}
