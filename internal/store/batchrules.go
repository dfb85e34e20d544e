package store

import (
	"context"

	"github.com/connecthub/connecthub"
)

// BatchTx is what a driver supplies, inside BatchWrite's write
// transaction, for WriteBatch: one statement (or one short loop) each,
// with errors mapped.
type BatchTx interface {
	// Jobs returns the jobs of ids as they are now, by id, locked where the
	// dialect can; a job that does not exist is absent.
	Jobs(ids []string) (map[string]*connecthub.Job, error)
	// InsertBatch writes the batch's row and returns its id.
	InsertBatch(b *connecthub.Batch) (int64, error)
	// WriteJob creates, replaces or deletes the item's job row as it.Op
	// says, and records the job's revision (ctx carries the batch, see
	// BatchRevisionContext).
	WriteJob(ctx context.Context, it *connecthub.BatchItem) error
	// InsertItem writes the item's row with its encoded before and after
	// states (EncodeBatchJob).
	InsertItem(batchID int64, seq int, it *connecthub.BatchItem, before, beforeSecret, after, afterSecret string) error
	// CheckChainWrite and CheckChainDelete are the chain rules of a job
	// write and a job delete.
	CheckChainWrite(j *connecthub.Job) error
	CheckChainDelete(id string) error
}

// WriteBatch is BatchWrite's rule, written once: the batch is checked
// (CheckBatch, by the caller, before the transaction); every job is read
// and compared with the state the plan saw, and any difference fails the
// whole batch (BatchConflict, nothing written); then the batch is recorded,
// and each item's job written as DecideBatchJob says, with its revision and
// its item row; last, the chain rules are applied to the final state of all
// the batch's jobs, so that jobs of one batch may chain to each other in
// any order.
func WriteBatch(ctx context.Context, tx BatchTx, b *connecthub.Batch) error {
	ids := make([]string, len(b.Items))
	for i, it := range b.Items {
		ids[i] = it.JobID
	}
	current, err := tx.Jobs(ids)
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
	if b.ID, err = tx.InsertBatch(b); err != nil {
		return err
	}
	rctx := BatchRevisionContext(ctx, b)
	for i := range b.Items {
		it := &b.Items[i]
		it.Before = current[it.JobID]
		it.After = DecideBatchJob(it.Before, it.After)
		if err := tx.WriteJob(rctx, it); err != nil {
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
		if err := tx.InsertItem(b.ID, i, it, before, beforeSecret, after, afterSecret); err != nil {
			return err
		}
	}
	for _, it := range b.Items {
		if it.Op == connecthub.BatchDelete {
			err = tx.CheckChainDelete(it.JobID)
		} else {
			err = tx.CheckChainWrite(it.After)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
