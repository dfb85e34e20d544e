package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// MaxBatchDocuments bounds the definitions of one apply.
const MaxBatchDocuments = store.MaxBatchItems

// BatchApply plans a set of job definitions against the stored jobs and,
// unless the request is a dry run or nothing changes, writes the plan as
// one batch: every job or none. A definition is the whole job: a field it
// leaves out takes its default, except secret_cfg, which when absent
// keeps the job's secrets (they are not in the files). Prune deletes the
// jobs no definition names. Every document is decoded and validated as a
// save is, before anything is written; the first problem is returned,
// naming its file, document and field.
func (s *Service) BatchApply(ctx context.Context, req *connecthub.BatchApplyRequest) (*connecthub.BatchApplyResult, error) {
	// No documents is a mistake, not a wish: with prune it would delete
	// every job.
	if req == nil || len(req.Documents) == 0 {
		return nil, connecthub.FieldError("documents", "", "documents are required: at least one job definition")
	}
	if len(req.Documents) > MaxBatchDocuments {
		return nil, connecthub.FieldError("documents", "", "at most %d job definitions per apply", MaxBatchDocuments)
	}
	current, err := s.allJobs(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := s.nodesForSave(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	res := &connecthub.BatchApplyResult{Plan: []connecthub.BatchPlanItem{}}
	var items []connecthub.BatchItem
	named := make(map[string]int, len(req.Documents))
	for i, doc := range req.Documents {
		in, err := connecthub.DecodeJobInput(doc.Job)
		if err != nil {
			return nil, connecthub.DocumentError(doc.File, doc.Index, "", err)
		}
		if in.ID == nil {
			return nil, connecthub.DocumentError(doc.File, doc.Index, "", connecthub.FieldError("id", "", "id is required"))
		}
		id := *in.ID
		if prev, dup := named[id]; dup {
			p := req.Documents[prev]
			return nil, connecthub.DocumentError(doc.File, doc.Index, id, duplicateJob(id, p.File, p.Index+1))
		}
		named[id] = i
		before := current[id]
		after, err := s.planDefinition(ctx, in, before, nodes, now)
		if err != nil {
			return nil, connecthub.DocumentError(doc.File, doc.Index, id, err)
		}
		item := connecthub.BatchPlanItem{JobID: id, Action: connecthub.BatchCreate, Changes: store.JobAuditChanges(before, after)}
		if before != nil {
			item.Action = connecthub.BatchUpdate
			if len(item.Changes) == 0 {
				item.Action = connecthub.BatchUnchanged
			}
		}
		res.Plan = append(res.Plan, item)
		if item.Action != connecthub.BatchUnchanged {
			items = append(items, connecthub.BatchItem{JobID: id, Before: before, After: after})
		}
	}
	if req.Prune {
		for id, j := range current {
			if _, ok := named[id]; !ok {
				res.Plan = append(res.Plan, connecthub.BatchPlanItem{JobID: id, Action: connecthub.BatchDelete})
				items = append(items, connecthub.BatchItem{JobID: id, Before: j})
			}
		}
	}
	slices.SortFunc(res.Plan, func(a, b connecthub.BatchPlanItem) int { return strings.Compare(a.JobID, b.JobID) })
	if req.DryRun || len(items) == 0 {
		return res, nil
	}
	b := &connecthub.Batch{CreatedAt: now, Action: connecthub.BatchApply, Source: req.Source, Items: items}
	actx, audit := s.audited(ctx, "config.apply", "batch")
	b.Actor = audit.Actor
	audit.Detail = batchDetail(items)
	if err := s.st.BatchWrite(actx, b); err != nil {
		return nil, err
	}
	b.Items = nil
	res.Batch = b
	return res, nil
}

// planDefinition builds the job a definition describes: from the
// defaults, as a create would, keeping of the stored job (before, nil for
// none) only what the server owns (created_at, the last fire time, the
// planned next fire time when the schedule did not change) and its
// secrets when the definition has none or the same ones.
func (s *Service) planDefinition(ctx context.Context, in *connecthub.JobInput, before *connecthub.Job, nodes []*connecthub.Node, now time.Time) (*connecthub.Job, error) {
	upd := *in
	if before != nil {
		same, err := s.sameSecrets(before, in.SecretCfg)
		if err != nil {
			return nil, err
		}
		if same {
			upd.SecretCfg = nil
		}
	}
	j, sc, err := connecthub.NewJob(&upd, s.defaults, now)
	if err != nil {
		return nil, err
	}
	if before != nil {
		j.CreatedAt, j.LastRunAt, j.NextRunAt = before.CreatedAt, before.LastRunAt, before.NextRunAt
		if !sc.Set {
			j.SecretCfg, j.SecretKeys, j.HasSecret = before.SecretCfg, before.SecretKeys, before.HasSecret
		}
	}
	handlers := []string{j.Handler}
	if before != nil {
		handlers = append(handlers, before.Handler)
	}
	if err := requireShellAdmin(ctx, handlers...); err != nil {
		return nil, err
	}
	if _, err := s.prepare(ctx, j, sc, before, now, before == nil, nodes); err != nil {
		return nil, err
	}
	if before != nil && canonicalRaw(before.PublicCfg) == canonicalRaw(j.PublicCfg) {
		// The same object however the database renders it: keep the
		// stored form, so that the plan does not list it as changed.
		j.PublicCfg = before.PublicCfg
	}
	if before != nil && store.SameJobState(before, j) {
		// Nothing changed: keep the stored job as it is, times included.
		return before, nil
	}
	return j, nil
}

// allJobs reads every job by id.
func (s *Service) allJobs(ctx context.Context) (map[string]*connecthub.Job, error) {
	out := map[string]*connecthub.Job{}
	cursor := ""
	for {
		page, next, err := s.st.JobList(ctx, connecthub.JobFilter{Limit: store.MaxPageLimit, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, j := range page {
			out[j.ID] = j
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// batchDetail summarises a batch's items for its audit entry.
func batchDetail(items []connecthub.BatchItem) string {
	var created, updated, deleted []string
	for _, it := range items {
		switch {
		case it.Before == nil:
			created = append(created, it.JobID)
		case it.After == nil:
			deleted = append(deleted, it.JobID)
		default:
			updated = append(updated, it.JobID)
		}
	}
	var parts []string
	for _, p := range []struct {
		verb string
		ids  []string
	}{{"created", created}, {"updated", updated}, {"deleted", deleted}} {
		if len(p.ids) > 0 {
			parts = append(parts, p.verb+" "+strings.Join(p.ids, ", "))
		}
	}
	return clip(strings.Join(parts, "; "), store.MaxAuditDetail)
}

// BatchList returns a page of batches, newest first.
func (s *Service) BatchList(ctx context.Context, f connecthub.BatchFilter) ([]*connecthub.Batch, string, error) {
	return s.st.BatchList(ctx, f)
}

// BatchGet returns a batch with the jobs it touched, before and after.
func (s *Service) BatchGet(ctx context.Context, id int64) (*connecthub.Batch, error) {
	return s.st.BatchGet(ctx, id)
}

// BatchRollback restores every job a batch touched to its state before
// the batch (definition and encrypted secrets; a job the batch created is
// deleted, one it deleted is created again), in one transaction recorded
// as a batch of its own. When a job changed since the batch (it is not
// the batch's recorded after-state), nothing changes and the error names
// every such job. A restored job's next fire time is planned from now.
func (s *Service) BatchRollback(ctx context.Context, id int64) (*connecthub.Batch, error) {
	old, err := s.st.BatchGet(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	rb := &connecthub.Batch{CreatedAt: now, Action: connecthub.BatchRollback, RollbackOf: old.ID,
		Source: connecthub.BatchSource{Files: []string{}, Hash: ""}}
	for _, it := range old.Items {
		var restored *connecthub.Job
		if it.Before != nil {
			j := *it.Before
			j.UpdatedAt = now
			if it.After != nil {
				j.LastRunAt = it.After.LastRunAt
			}
			if err := s.plan(ctx, &j, now); err != nil {
				return nil, err
			}
			restored = &j
		}
		rb.Items = append(rb.Items, connecthub.BatchItem{JobID: it.JobID, Before: it.After, After: restored})
	}
	actx, audit := s.audited(ctx, "config.rollback", "batch:"+strconv.FormatInt(old.ID, 10))
	rb.Actor = audit.Actor
	audit.Detail = batchDetail(rb.Items)
	if err := s.st.BatchWrite(actx, rb); err != nil {
		var ce *connecthub.Error
		if errors.As(err, &ce) && ce.Kind == connecthub.KindConflict {
			e := *ce
			e.Message = fmt.Sprintf("batch %d cannot be rolled back: %s", old.ID, e.Message)
			return nil, &e
		}
		return nil, err
	}
	return rb, nil
}

// ImportBatch writes the job changes an import planned (see
// JobImportPlan) as one batch, so that the import can be rolled back like
// an apply. It returns nil when there is nothing to write.
func (s *Service) ImportBatch(ctx context.Context, source connecthub.BatchSource, items []connecthub.BatchItem) (*connecthub.Batch, error) {
	if len(items) == 0 {
		return nil, nil
	}
	b := &connecthub.Batch{CreatedAt: s.now(), Action: connecthub.BatchImport, Source: source, Items: items}
	actx, audit := s.audited(ctx, "config.import", "batch")
	b.Actor = audit.Actor
	audit.Detail = batchDetail(items)
	if err := s.st.BatchWrite(actx, b); err != nil {
		return nil, err
	}
	return b, nil
}

// BatchChangedSince lists the jobs of a batch that are no longer in the
// state the batch left them in (their ids, in the batch's order): the
// jobs a rollback of the batch would be refused for. It reads without
// locking, for display; BatchRollback decides in its transaction.
func (s *Service) BatchChangedSince(ctx context.Context, b *connecthub.Batch) ([]string, error) {
	var out []string
	for _, it := range b.Items {
		cur, err := s.st.JobGet(ctx, it.JobID)
		if connecthub.IsKind(err, connecthub.KindNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !store.SameJobState(cur, it.After) {
			out = append(out, it.JobID)
		}
	}
	return out, nil
}

// duplicateJob is the error of a job id that two documents of one apply
// define; it names the id and the other document.
func duplicateJob(id, file string, doc int) error {
	e := connecthub.FieldError("id", "duplicate_job", "job %q is also defined in %s, document %d", id, file, doc)
	e.Args = []string{id, file, strconv.Itoa(doc)}
	return e
}
