package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// BatchWrite implements store.BatchStore with store.WriteBatch: every job
// of the batch is read, compared and written, and the batch recorded, in
// one write transaction.
func (s *Store) BatchWrite(ctx context.Context, b *connecthub.Batch) error {
	return store.WriteBatch(ctx, s.inTx(ctx), b, s.jobSteps(ctx), store.BatchSteps[*sqlx.Tx]{
		Jobs: func(tx *sqlx.Tx, ids []string) (map[string]*connecthub.Job, error) {
			byID := make(map[string]*connecthub.Job, len(ids))
			for _, id := range ids {
				j, err := scanJob(tx.QueryRowxContext(ctx, `SELECT `+store.JobColumns+` FROM jobs WHERE id = ?`, id))
				switch {
				case errors.Is(err, sql.ErrNoRows):
				case err != nil:
					return nil, dbErr(err)
				default:
					byID[id] = j
				}
			}
			return byID, nil
		},
		InsertBatch: func(tx *sqlx.Tx, b *connecthub.Batch) (int64, error) {
			res, err := tx.ExecContext(ctx, `INSERT INTO batches (created_at, actor, action, source_files, source_hash, rollback_of, created, updated, deleted)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, micros(b.CreatedAt), b.Actor, b.Action, store.EncodeBatchFiles(b.Source.Files),
				b.Source.Hash, b.RollbackOf, b.Created, b.Updated, b.Deleted)
			if err != nil {
				return 0, dbErr(err)
			}
			id, err := res.LastInsertId()
			return id, dbErr(err)
		},
		InsertItem: func(tx *sqlx.Tx, batchID int64, seq int, it *connecthub.BatchItem, before, beforeSecret, after, afterSecret string) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO batch_items (batch_id, seq, job_id, op, before_state, before_secret, after_state, after_secret)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, batchID, seq, it.JobID, it.Op, before, beforeSecret, after, afterSecret)
			return dbErr(err)
		},
	})
}

// BatchGet implements store.BatchStore, in one read transaction.
func (s *Store) BatchGet(ctx context.Context, id int64) (*connecthub.Batch, error) {
	var b *connecthub.Batch
	err := s.read(ctx, func(tx *sqlx.Tx) error {
		var err error
		b, err = scanBatch(tx.QueryRowxContext(ctx, `SELECT `+store.BatchColumns+` FROM batches WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return connecthub.NotFound("batch", fmt.Sprint(id))
		}
		if err != nil {
			return dbErr(err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT job_id, op, before_state, before_secret, after_state, after_secret
			FROM batch_items WHERE batch_id = ? ORDER BY seq`, id)
		if err != nil {
			return dbErr(err)
		}
		defer rows.Close()
		b.Items = []connecthub.BatchItem{}
		for rows.Next() {
			var it connecthub.BatchItem
			var bs, bsec, as, asec string
			if err := rows.Scan(&it.JobID, &it.Op, &bs, &bsec, &as, &asec); err != nil {
				return dbErr(err)
			}
			if it.Before, err = store.DecodeBatchJob(bs, bsec); err != nil {
				return err
			}
			if it.After, err = store.DecodeBatchJob(as, asec); err != nil {
				return err
			}
			b.Items = append(b.Items, it)
		}
		return dbErr(rows.Err())
	})
	return b, err
}

// BatchList implements store.BatchStore.
func (s *Store) BatchList(ctx context.Context, f connecthub.BatchFilter) ([]*connecthub.Batch, string, error) {
	return store.ListBatches(dialect, f, func(tail string, args []any) ([]*connecthub.Batch, error) {
		return queryAll(ctx, s.r, scanBatch, `SELECT `+store.BatchColumns+` FROM batches`+tail, args...)
	})
}

func scanBatch(sc scanner) (*connecthub.Batch, error) {
	var (
		b       connecthub.Batch
		created int64
		files   string
	)
	if err := sc.Scan(&b.ID, &created, &b.Actor, &b.Action, &files, &b.Source.Hash, &b.RollbackOf, &b.Created, &b.Updated, &b.Deleted); err != nil {
		return nil, err
	}
	b.CreatedAt = fromMicros(created)
	var err error
	b.Source.Files, err = store.DecodeBatchFiles(files)
	return &b, err
}
