package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

const batchColumns = `id, created_at, actor, action, source_files, source_hash, rollback_of, created, updated, deleted`

// BatchWrite implements store.BatchStore: the batch's jobs are locked and
// read in one query, compared, written and the batch recorded, in one
// transaction.
func (s *Store) BatchWrite(ctx context.Context, b *connecthub.Batch) error {
	if err := store.CheckBatch(b); err != nil {
		return err
	}
	for _, it := range b.Items {
		if it.After != nil {
			if err := checkJobText(it.After); err != nil {
				return err
			}
		}
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := store.WriteBatch(ctx, batchTx{ctx, tx}, b); err != nil {
			return err
		}
		return s.notify(ctx, tx, store.TopicJobs)
	})
	if err != nil {
		return err
	}
	s.Publish(store.TopicJobs)
	return nil
}

// batchTx is store.BatchTx on a transaction.
type batchTx struct {
	ctx context.Context
	tx  pgx.Tx
}

func (t batchTx) Jobs(ids []string) (map[string]*connecthub.Job, error) {
	found, err := queryList(t.ctx, t.tx, scanJob, `SELECT `+jobColumns+` FROM jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*connecthub.Job, len(found))
	for _, j := range found {
		byID[j.ID] = j
	}
	return byID, nil
}

func (t batchTx) InsertBatch(b *connecthub.Batch) (id int64, err error) {
	err = t.tx.QueryRow(t.ctx, `INSERT INTO batches (created_at, actor, action, source_files, source_hash, rollback_of, created, updated, deleted)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, utc(b.CreatedAt), cleanText(b.Actor), b.Action,
		store.EncodeBatchFiles(b.Source.Files), cleanText(b.Source.Hash), b.RollbackOf, b.Created, b.Updated, b.Deleted).Scan(&id)
	return id, dbErr(err)
}

func (t batchTx) WriteJob(ctx context.Context, it *connecthub.BatchItem) error {
	return writeBatchJob(ctx, t.tx, it)
}

func (t batchTx) InsertItem(batchID int64, seq int, it *connecthub.BatchItem, before, beforeSecret, after, afterSecret string) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO batch_items (batch_id, seq, job_id, op, before_state, before_secret, after_state, after_secret)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, batchID, seq, it.JobID, it.Op, before, beforeSecret, after, afterSecret)
	return dbErr(err)
}

func (t batchTx) CheckChainWrite(j *connecthub.Job) error { return checkChainWrite(t.ctx, t.tx, j) }
func (t batchTx) CheckChainDelete(id string) error        { return checkChainDelete(t.ctx, t.tx, id) }

// writeBatchJob writes one item's after-state in the batch's transaction:
// it creates, replaces or deletes the job's row. It is the one place a
// batch changes a job, so whatever every job write must also do (such as
// storing a revision) belongs here too.
func writeBatchJob(ctx context.Context, tx pgx.Tx, it *connecthub.BatchItem) error {
	if err := writeBatchRow(ctx, tx, it); err != nil {
		return err
	}
	return recordJobRevision(ctx, tx, store.BatchRevisionOp(it.Op), it.Before, it.After)
}

// writeBatchRow creates, replaces or deletes the job's row.
func writeBatchRow(ctx context.Context, tx pgx.Tx, it *connecthub.BatchItem) error {
	if it.Op == connecthub.BatchDelete {
		_, err := tx.Exec(ctx, `DELETE FROM jobs WHERE id = $1`, it.JobID)
		return dbErr(err)
	}
	args, err := jobArgs(it.After)
	if err != nil {
		return err
	}
	if it.Op == connecthub.BatchCreate {
		_, err = tx.Exec(ctx, `INSERT INTO jobs (`+jobColumns+`) VALUES (`+placeholders(1, len(args))+`)`, args...)
		if isCode(err, codeUniqueViolation) {
			return store.BatchConflict([]string{it.JobID})
		}
		return dbErr(err)
	}
	_, err = tx.Exec(ctx, `UPDATE jobs SET `+jobUpdateSet+` WHERE id = $1`, args...)
	return dbErr(err)
}

// BatchGet implements store.BatchStore, in one read-only transaction.
func (s *Store) BatchGet(ctx context.Context, id int64) (*connecthub.Batch, error) {
	var b *connecthub.Batch
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = scanBatch(tx.QueryRow(ctx, `SELECT `+batchColumns+` FROM batches WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return connecthub.NotFound("batch", fmt.Sprint(id))
		}
		if err != nil {
			return dbErr(err)
		}
		rows, err := tx.Query(ctx, `SELECT job_id, op, before_state, before_secret, after_state, after_secret
			FROM batch_items WHERE batch_id = $1 ORDER BY seq`, id)
		if err != nil {
			return dbErr(err)
		}
		b.Items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (connecthub.BatchItem, error) {
			var it connecthub.BatchItem
			var bs, bsec, as, asec string
			if err := row.Scan(&it.JobID, &it.Op, &bs, &bsec, &as, &asec); err != nil {
				return it, err
			}
			var err error
			if it.Before, err = store.DecodeBatchJob(bs, bsec); err != nil {
				return it, err
			}
			it.After, err = store.DecodeBatchJob(as, asec)
			return it, err
		})
		if b.Items == nil {
			b.Items = []connecthub.BatchItem{}
		}
		return dbErr(err)
	})
	return b, err
}

// BatchList implements store.BatchStore.
func (s *Store) BatchList(ctx context.Context, f connecthub.BatchFilter) ([]*connecthub.Batch, string, error) {
	limit, below, err := store.CheckBatchFilter(f)
	if err != nil {
		return nil, "", err
	}
	q, args := `SELECT `+batchColumns+` FROM batches`, []any{}
	if below > 0 {
		q += ` WHERE id < $1`
		args = append(args, below)
	}
	args = append(args, limit+1)
	db, err := s.db()
	if err != nil {
		return nil, "", err
	}
	rows, err := db.Query(ctx, q+` ORDER BY id DESC LIMIT $`+itoa(len(args)), args...)
	if err != nil {
		return nil, "", dbErr(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*connecthub.Batch, error) { return scanBatch(row) })
	if err != nil {
		return nil, "", dbErr(err)
	}
	page, next := store.Page(list, limit, func(b *connecthub.Batch) string { return fmt.Sprint(b.ID) })
	if page == nil {
		page = []*connecthub.Batch{}
	}
	return page, next, nil
}

func scanBatch(row pgx.Row) (*connecthub.Batch, error) {
	var (
		b     connecthub.Batch
		files []byte
	)
	if err := row.Scan(&b.ID, &b.CreatedAt, &b.Actor, &b.Action, &files, &b.Source.Hash, &b.RollbackOf, &b.Created, &b.Updated, &b.Deleted); err != nil {
		return nil, err
	}
	b.CreatedAt = utc(b.CreatedAt)
	var err error
	b.Source.Files, err = store.DecodeBatchFiles(string(files))
	return &b, err
}
