package store

import (
	"context"

	"github.com/connecthub/connecthub"
)

// BatchSteps are the SQL primitives of BatchWrite, besides the job steps,
// that a driver supplies for WriteBatch: one statement (or one short loop)
// each, with errors mapped.
type BatchSteps[Tx any] struct {
	// Jobs returns the jobs of ids as they are now, by id, locked where the
	// dialect can; a job that does not exist is absent.
	Jobs func(tx Tx, ids []string) (map[string]*connecthub.Job, error)
	// InsertBatch writes the batch's row and returns its id.
	InsertBatch func(tx Tx, b *connecthub.Batch) (int64, error)
	// InsertItem writes the item's row with its encoded before and after
	// states (EncodeBatchJob).
	InsertItem func(tx Tx, batchID int64, seq int, it *connecthub.BatchItem, before, beforeSecret, after, afterSecret string) error
}

// WriteBatch is BatchWrite's rule, written once: the batch is checked
// (CheckBatch, and the dialect's text of every job it writes) before the
// transaction; in it, every job is read and compared with the state the
// plan saw, and any difference fails the whole batch (BatchConflict,
// nothing written); then the batch is recorded, and each item's job
// created, replaced or deleted as DecideBatchJob says, with its revision
// (ctx carries the batch, BatchRevisionContext) and its item row; last,
// the chain rules are applied to the final state of all the batch's jobs,
// so that jobs of one batch may chain to each other in any order.
// TopicJobs is published once it has committed.
func WriteBatch[Tx any](ctx context.Context, inTx InTx[Tx], b *connecthub.Batch, jobs JobSteps[Tx], st BatchSteps[Tx]) error {
	if err := CheckBatch(b); err != nil {
		return err
	}
	for _, it := range b.Items {
		if it.After != nil {
			if err := jobs.checkText(it.After); err != nil {
				return err
			}
		}
	}
	return jobs.change(inTx, func(tx Tx) error { return writeBatch(ctx, tx, b, jobs, st) })
}

// writeBatch is WriteBatch's transaction.
func writeBatch[Tx any](ctx context.Context, tx Tx, b *connecthub.Batch, jobs JobSteps[Tx], st BatchSteps[Tx]) error {
	ids := make([]string, len(b.Items))
	for i, it := range b.Items {
		ids[i] = it.JobID
	}
	current, err := st.Jobs(tx, ids)
	if err != nil {
		return err
	}
	var conflicts []string
	for _, it := range b.Items {
		if !SameJobState(current[it.JobID], it.Before) {
			conflicts = append(conflicts, it.JobID)
		}
	}
	if len(conflicts) > 0 {
		return BatchConflict(conflicts)
	}
	if b.ID, err = st.InsertBatch(tx, b); err != nil {
		return err
	}
	rctx := BatchRevisionContext(ctx, b)
	for i := range b.Items {
		it := &b.Items[i]
		it.Before = current[it.JobID]
		it.After = DecideBatchJob(it.Before, it.After)
		if err := writeBatchJob(rctx, tx, it, jobs); err != nil {
			return err
		}
		before, beforeSecret, err := EncodeBatchJob(it.Before)
		if err != nil {
			return err
		}
		after, afterSecret, err := EncodeBatchJob(it.After)
		if err != nil {
			return err
		}
		if err := st.InsertItem(tx, b.ID, i, it, before, beforeSecret, after, afterSecret); err != nil {
			return err
		}
	}
	for _, it := range b.Items {
		if it.Op == connecthub.BatchDelete {
			err = jobs.CheckDelete(tx, it.JobID)
		} else {
			err = jobs.CheckChains(tx, it.After)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeBatchJob creates, replaces or deletes the item's job as it.Op says
// and records its revision. It is the one place a batch changes a job, so
// whatever every job write must also do belongs here too. A job created
// meanwhile under the item's id is a BatchConflict.
func writeBatchJob[Tx any](ctx context.Context, tx Tx, it *connecthub.BatchItem, jobs JobSteps[Tx]) error {
	var err error
	switch it.Op {
	case connecthub.BatchDelete:
		_, err = jobs.Delete(tx, it.JobID)
	case connecthub.BatchCreate:
		err = jobs.Insert(tx, it.After)
		if connecthub.IsKind(err, connecthub.KindConflict) {
			return BatchConflict([]string{it.JobID})
		}
	default:
		_, err = jobs.Write(tx, it.After)
	}
	if err != nil {
		return err
	}
	return jobs.Record(ctx, tx, BatchRevisionOp(it.Op), it.Before, it.After)
}
