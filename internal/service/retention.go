package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// RetentionReport is what one retention pass did.
type RetentionReport struct {
	// Jobs is how many jobs have a limit; Deleted how many runs went.
	Jobs    int
	Deleted int64
	// Busy is true when the pass stopped because another replica's pass
	// was running: that one does the work.
	Busy bool
}

// RetentionPass applies every job's retention once: each job's finished
// runs beyond its keep_runs, or older than its keep_for (defaultKeepFor
// when it sets none; 0 for no default), are deleted a batch
// (store.RetentionBatch) per statement, so no statement holds locks for
// long. deleted, when not nil, is told of every batch as it commits, so
// the metric counts what went even if the pass fails later. The pass
// stops at the first error, or when another replica holds the retention
// lock.
func (s *Service) RetentionPass(ctx context.Context, defaultKeepFor time.Duration, deleted func(n int64)) (RetentionReport, error) {
	var rep RetentionReport
	now := s.now()
	f := connecthub.JobFilter{Limit: store.MaxPageLimit}
	for {
		jobs, next, err := s.st.JobList(ctx, f)
		if err != nil {
			return rep, err
		}
		for _, j := range jobs {
			p, ok := store.RetentionOf(j, defaultKeepFor, now)
			if !ok {
				continue
			}
			rep.Jobs++
			for {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				res, err := s.st.RunPrune(ctx, p)
				if err != nil {
					return rep, fmt.Errorf("job %s: %w", j.ID, err)
				}
				if res.Busy {
					rep.Busy = true
					return rep, nil
				}
				rep.Deleted += res.Deleted
				if deleted != nil && res.Deleted > 0 {
					deleted(res.Deleted)
				}
				if res.Deleted < int64(p.Limit) {
					break
				}
			}
		}
		if next == "" {
			return rep, nil
		}
		f.Cursor = next
	}
}

// bulkBatch is how many runs a bulk action writes per transaction.
const bulkBatch = 100

// RunBulk applies action (connecthub.BulkRetry, BulkCancel, BulkDelete) to
// the runs req selects, run by run, in batches: each batch is one
// transaction with its audit entry (runs.bulk_retry, runs.bulk_cancel,
// runs.bulk_delete), except cancels, which are one transaction per run
// because each run's status decides what its cancel writes. A run the
// action does not apply to is skipped with the reason. The selection is
// refused (KindInvalid) when it holds more than connecthub.MaxBulkRuns
// runs, and (KindConflict, code count_changed) when req.Expect is not its
// size; outside a dry run Expect is required. When a batch fails the
// action stops there and the result says so: the runs before it have
// their outcomes, the runs after were not touched.
func (s *Service) RunBulk(ctx context.Context, action string, req connecthub.BulkRunRequest, requestedBy string) (*connecthub.BulkRunResult, error) {
	if !connecthub.ValidBulkAction(action) {
		return nil, connecthub.FieldError("action", "", "action must be one of retry, cancel, delete")
	}
	if !req.DryRun && req.Expect == nil {
		return nil, connecthub.FieldError("expect", "", "expect is required: the number of runs you confirmed (a dry run's matched)")
	}
	runs, err := s.bulkSelect(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.Expect != nil && *req.Expect != len(runs) {
		return nil, &connecthub.Error{Kind: connecthub.KindConflict, Code: "count_changed", Field: "expect",
			Args:    []string{strconv.Itoa(len(runs)), strconv.Itoa(*req.Expect)},
			Message: fmt.Sprintf("the selection now holds %d runs, not the %d expected; review it and confirm again", len(runs), *req.Expect)}
	}
	res := &connecthub.BulkRunResult{Action: action, DryRun: req.DryRun, Matched: len(runs), Outcomes: []connecthub.BulkRunOutcome{}}
	for start := 0; start < len(runs); start += bulkBatch {
		batch := runs[start:min(start+bulkBatch, len(runs))]
		if err := s.bulkApply(ctx, action, batch, req.DryRun, requestedBy, res); err != nil {
			res.Stopped = fmt.Sprintf("stopped after %d of %d runs: %v", len(res.Outcomes), len(runs), err)
			s.log.Warn("bulk run action stopped", "action", action, "done", len(res.Outcomes), "of", len(runs), "err", err)
			return res, nil
		}
	}
	res.Complete = true
	return res, nil
}

// bulkSelect reads the runs req selects, newest first, and refuses a
// selection larger than the cap.
func (s *Service) bulkSelect(ctx context.Context, req connecthub.BulkRunRequest) ([]*connecthub.Run, error) {
	if len(req.IDs) > 0 {
		if !req.Filter.Empty() {
			return nil, connecthub.FieldError("ids", "", "give either ids or a filter, not both")
		}
		if len(req.IDs) > connecthub.MaxBulkRuns {
			e := connecthub.FieldError("ids", "too_many", "at most %d runs at a time", connecthub.MaxBulkRuns)
			e.Args = []string{strconv.Itoa(connecthub.MaxBulkRuns)}
			return nil, e
		}
		seen := map[string]bool{}
		var runs []*connecthub.Run
		for _, id := range req.IDs {
			if id == "" || seen[id] {
				return nil, connecthub.FieldError("ids", "", "run ids must be non-empty and unique")
			}
			seen[id] = true
			r, err := s.st.RunGet(ctx, id)
			if connecthub.IsKind(err, connecthub.KindNotFound) {
				// Named but gone: listed as skipped, never acted on.
				r, err = &connecthub.Run{ID: id}, nil
			}
			if err != nil {
				return nil, err
			}
			runs = append(runs, r)
		}
		return runs, nil
	}
	f, err := req.Filter.RunFilter()
	if err != nil {
		return nil, err
	}
	f.Limit = store.MaxPageLimit
	var runs []*connecthub.Run
	for {
		page, next, err := s.st.RunList(ctx, f)
		if err != nil {
			return nil, err
		}
		runs = append(runs, page...)
		if len(runs) > connecthub.MaxBulkRuns {
			e := connecthub.FieldError("filter", "too_many",
				"the filter selects more than %d runs; narrow it (by job, status or time) and repeat", connecthub.MaxBulkRuns)
			e.Args = []string{strconv.Itoa(connecthub.MaxBulkRuns)}
			return nil, e
		}
		if next == "" {
			return runs, nil
		}
		f.Cursor = next
	}
}

// bulkApply acts on one batch and records each run's outcome.
func (s *Service) bulkApply(ctx context.Context, action string, batch []*connecthub.Run, dry bool, requestedBy string, res *connecthub.BulkRunResult) error {
	outcome := func(r *connecthub.Run) connecthub.BulkRunOutcome {
		o := connecthub.BulkRunOutcome{RunID: r.ID, JobID: r.JobID, Status: r.Status, Outcome: connecthub.BulkOK}
		if r.Status == "" {
			o.Outcome, o.Reason = connecthub.BulkSkipped, "run does not exist"
		} else if reason := connecthub.BulkSkipReason(action, r.Status); reason != "" {
			o.Outcome, o.Reason = connecthub.BulkSkipped, reason
		}
		return o
	}
	if dry {
		for _, r := range batch {
			res.Add(outcome(r))
		}
		return nil
	}
	switch action {
	case connecthub.BulkCancel:
		for _, r := range batch {
			o := outcome(r)
			if o.Outcome == connecthub.BulkOK {
				_, err := s.st.RunCancel(s.Audited(ctx, "runs.bulk_cancel", "run:"+r.ID), r.ID, s.now())
				switch {
				case connecthub.IsKind(err, connecthub.KindConflict), connecthub.IsKind(err, connecthub.KindNotFound):
					o.Outcome, o.Reason = connecthub.BulkSkipped, errorMessage(err)
				case err != nil:
					return err
				}
			}
			res.Add(o)
		}
		return nil
	case connecthub.BulkRetry:
		outs := make([]connecthub.BulkRunOutcome, len(batch))
		var news []*connecthub.Run
		var olds []string
		for i, r := range batch {
			outs[i] = outcome(r)
			if outs[i].Outcome != connecthub.BulkOK {
				continue
			}
			token, err := s.st.RunSecret(ctx, r.ID)
			if connecthub.IsKind(err, connecthub.KindNotFound) {
				outs[i].Outcome, outs[i].Reason = connecthub.BulkSkipped, "run no longer exists"
				continue
			}
			if err != nil {
				return err
			}
			old := *r
			old.Snapshot.SecretCfg = token
			n := connecthub.RetryRun(&old, s.now(), requestedBy)
			news = append(news, n)
			olds = append(olds, r.ID)
		}
		if len(news) > 0 {
			ctx := s.bulkAudited(ctx, "runs.bulk_retry", olds)
			if err := s.st.RunInsert(ctx, news); err != nil {
				return err
			}
		}
		k := 0
		for i := range outs {
			if outs[i].Outcome == connecthub.BulkOK {
				outs[i].NewRunID = news[k].ID
				k++
			}
			res.Add(outs[i])
		}
		return nil
	default: // delete
		outs := make([]connecthub.BulkRunOutcome, len(batch))
		var want []string
		for i, r := range batch {
			outs[i] = outcome(r)
			if outs[i].Outcome == connecthub.BulkOK {
				want = append(want, r.ID)
			}
		}
		gone := map[string]bool{}
		if len(want) > 0 {
			deleted, err := s.st.RunDeleteFinishedIDs(s.bulkAudited(ctx, "runs.bulk_delete", want), want)
			if err != nil {
				return err
			}
			for _, id := range deleted {
				gone[id] = true
			}
		}
		for i := range outs {
			if outs[i].Outcome == connecthub.BulkOK && !gone[outs[i].RunID] {
				outs[i].Outcome, outs[i].Reason = connecthub.BulkSkipped, "run is no longer finished, or no longer exists"
			}
			res.Add(outs[i])
		}
		return nil
	}
}

// bulkAudited is Audited for a batch of runs: the target names the first
// run and the detail how many and which (cut to the detail's bound).
func (s *Service) bulkAudited(ctx context.Context, action string, ids []string) context.Context {
	ctx, e := s.audited(ctx, action, "run:"+ids[0])
	detail := fmt.Sprintf("%d runs: %s", len(ids), strings.Join(ids, ", "))
	if e.Detail != "" {
		detail = e.Detail + "; " + detail
	}
	e.Detail = clip(detail, store.MaxAuditDetail)
	return ctx
}

// errorMessage is the message of a *connecthub.Error, for a skip reason.
func errorMessage(err error) string {
	var ce *connecthub.Error
	if errors.As(err, &ce) && ce.Message != "" {
		return ce.Message
	}
	return err.Error()
}
