package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// The rules of chains (a job's on_success and on_failure), written once:
// what a job's chain lists may name (CheckChainWrite), when a job may be
// deleted (ChainDeleteRefused), and which runs the end of a run starts
// (StartChains, DecideChain). The drivers read and write through ChainTx
// and ChainGraph, in the transaction that writes the job or ends the run.

// ChainStore reads the chain links between jobs and between runs.
//
// Writes follow these rules besides each method's own:
//   - JobCreate and JobUpdate refuse a job whose on_success or on_failure
//     names a job that does not exist (KindInvalid, code unknown_job,
//     naming the field and the id) or closes a cycle through either list,
//     a job naming itself included (KindInvalid, code chain_cycle, naming
//     the cycle "a → b → a"). The check reads the other jobs in the
//     transaction that writes, and writers that could race (PostgreSQL)
//     take one lock for chain checks first, so two concurrent writes can
//     never close a cycle between them.
//   - JobDelete refuses a job that another job chains to (KindConflict,
//     code job_chained, naming those jobs) under the same lock.
//   - A run that ends SUCCESS, or FAILURE for good (a retry is not an
//     end), starts the jobs of its job's on_success or on_failure in the
//     transaction that ends it (RunComplete, RunCompleteAndClaim,
//     RunRescue, NodeMarkDead), by StartChains. A CANCELED or SKIPPED run
//     starts nothing. At most one run per parent and downstream job exists
//     (a unique index backs it).
type ChainStore interface {
	// JobUpstream returns the ids of the jobs whose on_success or
	// on_failure names id, sorted; none is an empty list, also for a job
	// that does not exist.
	JobUpstream(ctx context.Context, id string) ([]string, error)
	// RunChainChildren returns the runs that the end of run parentID
	// started (trigger chain, meta.parent_run), oldest first, without
	// secrets.
	RunChainChildren(ctx context.Context, parentID string) ([]*connecthub.Run, error)
}

// ChainEdges are one job's chain lists.
type ChainEdges struct {
	OnSuccess, OnFailure []string
}

// ChainGraph maps job ids to their chain lists (jobs without any may be
// absent).
type ChainGraph map[string]ChainEdges

// ChainIDs returns the ids a job's chain lists name, each once, sorted.
func ChainIDs(j *connecthub.Job) []string {
	ids := slices.Concat(j.OnSuccess, j.OnFailure)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// CheckChainWrite checks the chain lists of j, about to be written, against
// graph (the stored chain lists of every job that has any: j's own stored
// lists are replaced by j's) and exists (which of ChainIDs(j) exist; j
// itself always does). Call it only when j.HasChains(): a job without
// chain lists can close no cycle.
func CheckChainWrite(j *connecthub.Job, graph ChainGraph, exists map[string]bool) error {
	for _, f := range []struct {
		name string
		ids  []string
	}{{connecthub.ChainSuccess, j.OnSuccess}, {connecthub.ChainFailure, j.OnFailure}} {
		for _, id := range f.ids {
			if id != j.ID && !exists[id] {
				e := connecthub.FieldError(f.name, "unknown_job", "job %q does not exist", id)
				e.Args = []string{id}
				return e
			}
		}
	}
	g := make(ChainGraph, len(graph)+1)
	for id, e := range graph {
		g[id] = e
	}
	g[j.ID] = ChainEdges{OnSuccess: j.OnSuccess, OnFailure: j.OnFailure}
	if cycle, field := findCycle(g, j.ID); cycle != nil {
		e := connecthub.FieldError(field, "chain_cycle", "chains may not loop, and this makes a cycle: %s",
			strings.Join(cycle, " → "))
		e.Args = []string{strings.Join(cycle, " → ")}
		return e
	}
	return nil
}

// findCycle returns a cycle through from (from, ..., from) and the field
// of from's first edge on it, or nil. It walks breadth first, so the
// cycle it names is a shortest one.
func findCycle(g ChainGraph, from string) ([]string, string) {
	type step struct {
		prev  string
		field string // the field of the edge from `from`, for the first step
	}
	via := map[string]step{}
	var queue []string
	edges := func(id string) [][2]string {
		e := g[id]
		out := make([][2]string, 0, len(e.OnSuccess)+len(e.OnFailure))
		for _, t := range e.OnSuccess {
			out = append(out, [2]string{t, connecthub.ChainSuccess})
		}
		for _, t := range e.OnFailure {
			out = append(out, [2]string{t, connecthub.ChainFailure})
		}
		return out
	}
	path := func(last string) ([]string, string) {
		cycle := []string{from}
		field := ""
		for at := last; at != from; at = via[at].prev {
			cycle = append(cycle, at)
			field = via[at].field
		}
		slices.Reverse(cycle[1:])
		return append(cycle, from), field
	}
	for _, e := range edges(from) {
		if e[0] == from {
			return []string{from, from}, e[1]
		}
		if _, seen := via[e[0]]; !seen {
			via[e[0]] = step{prev: from, field: e[1]}
			queue = append(queue, e[0])
		}
	}
	for len(queue) > 0 {
		at := queue[0]
		queue = queue[1:]
		for _, e := range edges(at) {
			if e[0] == from {
				cycle, field := path(at)
				return cycle, field
			}
			if _, seen := via[e[0]]; !seen {
				via[e[0]] = step{prev: at}
				queue = append(queue, e[0])
			}
		}
	}
	return nil, ""
}

// ChainDeleteRefused is JobDelete's error for a job that the jobs upstream
// chain to: deleting it would leave their lists naming nothing, so the
// operator removes it from them first.
func ChainDeleteRefused(id string, upstream []string) error {
	quoted := make([]string, len(upstream))
	for i, u := range upstream {
		quoted[i] = fmt.Sprintf("%q", u)
	}
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "job_chained", Args: []string{id, strings.Join(upstream, ", ")},
		Message: fmt.Sprintf("job %q is in the on_success or on_failure of %s: remove it there before deleting it",
			id, strings.Join(quoted, ", "))}
}

// ChainEnd is a run that ended in the transaction at hand, as StartChains
// needs it.
type ChainEnd struct {
	RunID, JobID string
	Status       connecthub.RunStatus
	Result       json.RawMessage
	Error        string
	At           time.Time
}

// ChainTx is what StartChains needs from a driver, in the transaction that
// ends the runs.
type ChainTx interface {
	// ChainEdges returns the chain lists of those of jobIDs that have any.
	ChainEdges(ctx context.Context, jobIDs []string) (ChainGraph, error)
	// ChainJobs reads the jobs ids names (sorted, distinct) by id,
	// locking them where the database has row locks, so that concurrent
	// ends starting the same job take turns; a job that does not exist is
	// absent.
	ChainJobs(ctx context.Context, ids []string) (map[string]*connecthub.Job, error)
	// JobBusy reports whether the job has a QUEUED or RUNNING run.
	JobBusy(ctx context.Context, jobID string) (bool, error)
	// CancelActive does what JobsFire's replace does to a job's active
	// runs at now: QUEUED ones become CANCELED, RUNNING ones get a cancel
	// request, both with ReplacedMessage. It reports whether it requested
	// any cancel.
	CancelActive(ctx context.Context, jobID string, now time.Time) (bool, error)
	// InsertChainRun inserts a prepared run (with its id).
	InsertChainRun(ctx context.Context, r *connecthub.Run) error
}

// ChainStarted says what StartChains did, so the driver knows what to
// publish after commit.
type ChainStarted struct {
	// Runs are the runs it inserted (QUEUED or SKIPPED).
	Runs []*connecthub.Run
	// Queued says a run was inserted QUEUED (publish TopicRuns);
	// CancelRequested that a replace asked a RUNNING run to stop
	// (publish TopicCancel).
	Queued, CancelRequested bool
}

// StartChains starts the chained runs of the ends, in order: for each run
// that ended SUCCESS or FAILURE, one run of each job of its job's
// on_success or on_failure, decided by DecideChain.
func StartChains(ctx context.Context, tx ChainTx, ends []ChainEnd, ids *IDGen) (ChainStarted, error) {
	var res ChainStarted
	var jobs []string
	for _, e := range ends {
		if e.Status == connecthub.StatusSuccess || e.Status == connecthub.StatusFailure {
			jobs = append(jobs, e.JobID)
		}
	}
	if len(jobs) == 0 {
		return res, nil
	}
	slices.Sort(jobs)
	graph, err := tx.ChainEdges(ctx, slices.Compact(jobs))
	if err != nil || len(graph) == 0 {
		return res, err
	}
	targets := func(e *ChainEnd) []string {
		j := connecthub.Job{OnSuccess: graph[e.JobID].OnSuccess, OnFailure: graph[e.JobID].OnFailure}
		return j.ChainTargets(e.Status)
	}
	var names []string
	for i := range ends {
		names = append(names, targets(&ends[i])...)
	}
	if len(names) == 0 {
		return res, nil
	}
	slices.Sort(names)
	downstream, err := tx.ChainJobs(ctx, slices.Compact(names))
	if err != nil {
		return res, err
	}
	for i := range ends {
		e := &ends[i]
		for _, name := range targets(e) {
			j := downstream[name]
			if j == nil || !j.Enabled {
				continue // deleted meanwhile, or disabled: not started
			}
			busy := false
			if j.Concurrency != connecthub.ConcurrencyAllow {
				if busy, err = tx.JobBusy(ctx, j.ID); err != nil {
					return res, err
				}
			}
			r, replace, err := DecideChain(e, j, busy, ids)
			if err != nil {
				return res, err
			}
			if replace {
				requested, err := tx.CancelActive(ctx, j.ID, e.At)
				if err != nil {
					return res, err
				}
				res.CancelRequested = res.CancelRequested || requested
			}
			if err := tx.InsertChainRun(ctx, r); err != nil {
				return res, err
			}
			res.Queued = res.Queued || r.Status == connecthub.StatusQueued
			res.Runs = append(res.Runs, r)
		}
	}
	return res, nil
}

// DecideChain builds the run of enabled job j that the end e starts, with
// its id, and applies j's concurrency policy as a cron slot would: under
// forbid (or "") a busy job gets a SKIPPED run, finished at e.At, that
// records the chain was reached; under replace the job's active runs are
// canceled first (replace is true: the driver does it); under allow the run
// is just queued.
func DecideChain(e *ChainEnd, j *connecthub.Job, busy bool, ids *IDGen) (*connecthub.Run, bool, error) {
	r, err := connecthub.NewChainRun(j, &connecthub.Upstream{
		RunID: e.RunID, JobID: e.JobID, Status: e.Status, Result: e.Result, Error: e.Error,
	}, e.At)
	if err != nil {
		return nil, false, err
	}
	replace := false
	if busy {
		switch j.Concurrency {
		case connecthub.ConcurrencyAllow:
		case connecthub.ConcurrencyReplace:
			replace = true
		default:
			r.Status = connecthub.StatusSkipped
			at := e.At
			r.FinishedAt = &at
			r.Message = SkippedMessage
		}
	}
	row, err := PrepareRun(r)
	if err != nil {
		return nil, false, err
	}
	if row.ID, err = ids.Next(row.CreatedAt); err != nil {
		return nil, false, err
	}
	return row, replace, nil
}
