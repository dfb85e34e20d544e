package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/connecthub/connecthub"
)

// BatchStore keeps batches: sets of job changes written in one
// transaction (an apply of definition files, an import, a rollback), with
// every touched job's state before and after.
type BatchStore interface {
	// BatchWrite applies a batch's items and records the batch, all in one
	// write transaction (with the context's audit entry). Each item's
	// Before is the state the caller planned from (nil: the job must not
	// exist) and After the state to write (nil: delete the job). When a
	// job's current state is not its item's Before (SameJobState), nothing
	// is written and the error is KindConflict (batch_conflict) naming
	// every such job. What is written for a job follows DecideBatchJob;
	// the recorded Before is the row as it was read. CheckBatch applies;
	// ID is set.
	BatchWrite(ctx context.Context, b *connecthub.Batch) error
	// BatchGet returns a batch with its items in the order written;
	// KindNotFound if none.
	BatchGet(ctx context.Context, id int64) (*connecthub.Batch, error)
	// BatchList returns a page of batches without their items, newest
	// (highest id) first, and the cursor of the next page.
	BatchList(ctx context.Context, f connecthub.BatchFilter) ([]*connecthub.Batch, string, error)
}

// MaxBatchItems bounds the jobs one batch touches, so that one request
// cannot hold the writer for an unbounded time.
const MaxBatchItems = 10000

// CheckBatch checks a batch BatchWrite is about to write and counts its
// items by operation.
func CheckBatch(b *connecthub.Batch) error {
	if b == nil {
		return connecthub.Errorf(connecthub.KindInvalid, "batch is required")
	}
	switch b.Action {
	case connecthub.BatchApply, connecthub.BatchImport, connecthub.BatchRollback:
	default:
		return connecthub.FieldError("action", "", "batch action must be apply, import or rollback, not %q", b.Action)
	}
	if b.CreatedAt.IsZero() {
		return connecthub.FieldError("created_at", "", "batch created_at is required")
	}
	if len(b.Items) == 0 {
		return connecthub.FieldError("items", "", "a batch changes at least one job")
	}
	if len(b.Items) > MaxBatchItems {
		return connecthub.FieldError("items", "", "a batch changes at most %d jobs", MaxBatchItems)
	}
	seen := make(map[string]bool, len(b.Items))
	b.Created, b.Updated, b.Deleted = 0, 0, 0
	for i := range b.Items {
		it := &b.Items[i]
		if err := connecthub.ValidateID(it.JobID); err != nil {
			return err
		}
		if seen[it.JobID] {
			return connecthub.FieldError("items", "", "job %q appears twice in the batch", it.JobID)
		}
		seen[it.JobID] = true
		switch {
		case it.Before == nil && it.After == nil:
			return connecthub.FieldError("items", "", "job %q: a batch item needs a state before or after", it.JobID)
		case it.Before == nil:
			it.Op = connecthub.BatchCreate
			b.Created++
		case it.After == nil:
			it.Op = connecthub.BatchDelete
			b.Deleted++
		default:
			it.Op = connecthub.BatchUpdate
			b.Updated++
		}
		for _, j := range []*connecthub.Job{it.Before, it.After} {
			if j != nil && j.ID != it.JobID {
				return connecthub.FieldError("items", "", "job %q: a batch item's job has id %q", it.JobID, j.ID)
			}
		}
	}
	return nil
}

// jobFields returns a job's definition (JobDefinition, the one a
// revision stores) as JSON values by field name, for a field-level diff.
// An empty list is no list: a nil slice and a stored empty one are the
// same definition.
func jobFields(j *connecthub.Job) map[string]json.RawMessage {
	raw, err := JobDefinition(j)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	for k, v := range m {
		if string(v) == "null" || string(v) == "[]" {
			delete(m, k)
		}
	}
	return m
}

// SameJobState reports whether two states of a job are the same
// definition with the same encrypted secrets (nil is "absent"). The
// scheduler's times (last_run_at, next_run_at) and updated_at do not
// count: firing a job does not change what it is.
func SameJobState(a, b *connecthub.Job) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.SecretCfg != b.SecretCfg {
		return false
	}
	da, db := jobFields(a), jobFields(b)
	if len(da) != len(db) {
		return false
	}
	for k, v := range da {
		if !bytes.Equal(v, db[k]) {
			return false
		}
	}
	return true
}

// BatchConflict is the error of a batch whose jobs changed since it was
// planned: it names them, and nothing was written.
func BatchConflict(ids []string) error {
	ids = slices.Sorted(slices.Values(ids))
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "batch_conflict", Args: []string{strings.Join(ids, ", ")},
		Message: fmt.Sprintf("changed since: job(s) %s; nothing was written", strings.Join(ids, ", "))}
}

// DecideBatchJob returns what BatchWrite writes for a job whose current
// row is current (nil when absent) and whose planned state is after: the
// planned state, keeping the later of the two last_run_at, so that a
// slot the scheduler fired meanwhile is not fired again.
func DecideBatchJob(current, after *connecthub.Job) *connecthub.Job {
	if after == nil {
		return nil
	}
	out := *after
	if current != nil && current.LastRunAt != nil && (out.LastRunAt == nil || current.LastRunAt.After(*out.LastRunAt)) {
		out.LastRunAt = current.LastRunAt
	}
	if current != nil {
		out.CreatedAt = current.CreatedAt
	}
	return &out
}

// EncodeBatchJob renders a job state for a batch item's columns: its
// JSON (without secrets) and its encrypted secret, "" and "" for absent.
func EncodeBatchJob(j *connecthub.Job) (state, secret string, err error) {
	if j == nil {
		return "", "", nil
	}
	raw, err := json.Marshal(j)
	if err != nil {
		return "", "", fmt.Errorf("encode batch job %s: %w", j.ID, err)
	}
	return string(raw), j.SecretCfg, nil
}

// DecodeBatchJob reads what EncodeBatchJob wrote.
func DecodeBatchJob(state, secret string) (*connecthub.Job, error) {
	if state == "" {
		return nil, nil
	}
	var j connecthub.Job
	if err := json.Unmarshal([]byte(state), &j); err != nil {
		return nil, fmt.Errorf("decode batch job: %w", err)
	}
	j.SecretCfg = secret
	j.LastRun, j.Durations = nil, nil
	return &j, nil
}

// EncodeBatchFiles renders a batch source's file names for their column.
func EncodeBatchFiles(files []string) string {
	if files == nil {
		files = []string{}
	}
	raw, _ := json.Marshal(files)
	return string(raw)
}

// DecodeBatchFiles reads what EncodeBatchFiles wrote.
func DecodeBatchFiles(s string) ([]string, error) {
	files := []string{}
	if s == "" {
		return files, nil
	}
	if err := json.Unmarshal([]byte(s), &files); err != nil {
		return nil, fmt.Errorf("decode batch files: %w", err)
	}
	return files, nil
}

// CheckBatchFilter checks BatchList's filter and returns the page limit
// and the id the page starts below (0: from the newest). Batches page
// like the audit log: newest id first, the cursor the last id shown.
func CheckBatchFilter(f connecthub.BatchFilter) (limit int, below int64, err error) {
	return CheckAuditFilter(connecthub.AuditFilter{Limit: f.Limit, Cursor: f.Cursor})
}

// BatchRevisionContext returns ctx whose job writes record their
// revisions as made by batch b: an apply or an import under its own
// action, a rollback as a restore, each with the batch's id as source, so
// a job's Revisions tab names the batch that changed it.
func BatchRevisionContext(ctx context.Context, b *connecthub.Batch) context.Context {
	action := connecthub.RevisionApply
	switch b.Action {
	case connecthub.BatchImport:
		action = connecthub.RevisionImport
	case connecthub.BatchRollback:
		action = connecthub.RevisionRestore
	}
	return WithRevisionSource(ctx, action, fmt.Sprintf("batch %d", b.ID))
}

// BatchRevisionOp is the revision operation of a batch item's operation.
func BatchRevisionOp(op string) string {
	switch op {
	case connecthub.BatchCreate:
		return connecthub.RevisionCreate
	case connecthub.BatchDelete:
		return connecthub.RevisionDelete
	}
	return connecthub.RevisionUpdate
}
