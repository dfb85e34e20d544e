package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// BatchWrite implements store.BatchStore with store.WriteBatch: the
// batch's jobs are locked and read in one query, compared, written and the
// batch recorded, in one transaction.
func (s *Store) BatchWrite(ctx context.Context, b *connecthub.Batch) error {
	return store.WriteBatch(ctx, s.inTx(ctx), b, s.jobSteps(ctx), store.BatchSteps[pgx.Tx]{
		Jobs: func(tx pgx.Tx, ids []string) (map[string]*connecthub.Job, error) {
			found, err := queryList(ctx, tx, scanJob, `SELECT `+store.JobColumns+` FROM jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
			if err != nil {
				return nil, err
			}
			byID := make(map[string]*connecthub.Job, len(found))
			for _, j := range found {
				byID[j.ID] = j
			}
			return byID, nil
		},
		InsertBatch: func(tx pgx.Tx, b *connecthub.Batch) (id int64, err error) {
			err = tx.QueryRow(ctx, `INSERT INTO batches (created_at, actor, action, source_files, source_hash, rollback_of, created, updated, deleted)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, utc(b.CreatedAt), cleanText(b.Actor), b.Action,
				store.EncodeBatchFiles(b.Source.Files), cleanText(b.Source.Hash), b.RollbackOf, b.Created, b.Updated, b.Deleted).Scan(&id)
			return id, dbErr(err)
		},
		InsertItem: func(tx pgx.Tx, batchID int64, seq int, it *connecthub.BatchItem, before, beforeSecret, after, afterSecret string) error {
			_, err := tx.Exec(ctx, `INSERT INTO batch_items (batch_id, seq, job_id, op, before_state, before_secret, after_state, after_secret)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, batchID, seq, it.JobID, it.Op, before, beforeSecret, after, afterSecret)
			return dbErr(err)
		},
	})
}

// BatchGet implements store.BatchStore, in one read-only transaction.
func (s *Store) BatchGet(ctx context.Context, id int64) (*connecthub.Batch, error) {
	var b *connecthub.Batch
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = scanBatch(tx.QueryRow(ctx, `SELECT `+store.BatchColumns+` FROM batches WHERE id = $1`, id))
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
	return store.ListBatches(dialect, f, func(tail string, args []any) ([]*connecthub.Batch, error) {
		return poolList(ctx, s, scanBatch, `SELECT `+store.BatchColumns+` FROM batches`+tail, args...)
	})
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
