package sqlitestore

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// insertAudit writes an entry in tx, the transaction of the change it
// records, and sets its id.
func insertAudit(ctx context.Context, tx *sqlx.Tx, e *connecthub.AuditEntry) error {
	if err := store.CheckAudit(e); err != nil {
		return err
	}
	changes, err := store.EncodeAuditChanges(e.Changes)
	if err != nil {
		return err
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	res, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, actor_kind, break_glass, action, target, client, changes, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, micros(e.At), e.Actor, e.ActorKind, boolInt(e.BreakGlass), e.Action, e.Target,
		e.Client, changes, e.Detail)
	if err != nil {
		return dbErr(err)
	}
	e.ID, err = res.LastInsertId()
	return dbErr(err)
}

// AuditAppend implements store.AuditStore.
func (s *Store) AuditAppend(ctx context.Context, e *connecthub.AuditEntry) error {
	if err := store.CheckAudit(e); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sqlx.Tx) error { return insertAudit(ctx, tx, e) })
}

// AuditList implements store.AuditStore: one query on the reader pool,
// newest first by id, through the index of the filter's column.
func (s *Store) AuditList(ctx context.Context, f connecthub.AuditFilter) ([]*connecthub.AuditEntry, string, error) {
	return store.ListAudit(dialect, f, func(tail string, args []any) ([]*connecthub.AuditEntry, error) {
		return queryAll(ctx, s.r, scanAudit, `SELECT `+store.AuditColumns+` FROM audit`+tail, args...)
	})
}

// AuditPurge implements store.AuditStore.
func (s *Store) AuditPurge(ctx context.Context, before time.Time, limit int) (int64, error) {
	if err := store.CheckAuditPurge(before, limit); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY id LIMIT ?)`,
			micros(before), limit)
		if err != nil {
			return dbErr(err)
		}
		n, err = res.RowsAffected()
		return dbErr(err)
	})
	return n, err
}

func scanAudit(sc scanner) (*connecthub.AuditEntry, error) {
	var (
		e          connecthub.AuditEntry
		at         int64
		breakGlass int64
		changes    string
	)
	if err := sc.Scan(&e.ID, &at, &e.Actor, &e.ActorKind, &breakGlass, &e.Action, &e.Target, &e.Client, &changes, &e.Detail); err != nil {
		return nil, err
	}
	e.At, e.BreakGlass = fromMicros(at), breakGlass != 0
	if err := store.DecodeAuditChanges(&e, []byte(changes)); err != nil {
		return nil, err
	}
	return &e, nil
}
