package pgstore

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// execer is what a statement runs on: the pool, or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertAudit writes an entry in tx, the transaction of the change it
// records, and sets its id.
func insertAudit(ctx context.Context, tx execer, e *connecthub.AuditEntry) error {
	if err := store.CheckAudit(e); err != nil {
		return err
	}
	changes, err := store.EncodeAuditChanges(e.Changes)
	if err != nil {
		return err
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	return dbErr(tx.QueryRow(ctx, `INSERT INTO audit (at, actor, actor_kind, break_glass, action, target, client, changes, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, e.At, e.Actor, e.ActorKind, e.BreakGlass, e.Action, e.Target,
		e.Client, changes, e.Detail).Scan(&e.ID))
}

// conn runs fn on the pool, or, when ctx carries an audit entry to
// write, in a transaction that writes it too: a method that needs one
// statement takes no transaction unless its change is audited.
func (s *Store) conn(ctx context.Context, fn func(q execer) error) error {
	if e, _ := store.AuditToWrite(ctx); e != nil {
		return s.tx(ctx, func(tx pgx.Tx) error { return fn(tx) })
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	return fn(db)
}

// AuditAppend implements store.AuditStore.
func (s *Store) AuditAppend(ctx context.Context, e *connecthub.AuditEntry) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	return insertAudit(ctx, db, e)
}

// AuditList implements store.AuditStore.
func (s *Store) AuditList(ctx context.Context, f connecthub.AuditFilter) ([]*connecthub.AuditEntry, string, error) {
	for _, v := range []string{f.Actor, f.Target, f.Action} {
		if !storable(v) {
			if _, _, err := store.CheckAuditFilter(f); err != nil {
				return nil, "", err
			}
			return []*connecthub.AuditEntry{}, "", nil // nothing stored can match
		}
	}
	return store.ListAudit(dialect, f, func(tail string, args []any) ([]*connecthub.AuditEntry, error) {
		return poolList(ctx, s, scanAudit, `SELECT `+store.AuditColumns+` FROM audit`+tail, args...)
	})
}

// AuditPurge implements store.AuditStore.
func (s *Store) AuditPurge(ctx context.Context, before time.Time, limit int) (int64, error) {
	if err := store.CheckAuditPurge(before, limit); err != nil {
		return 0, err
	}
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	tag, err := db.Exec(ctx, `DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 ORDER BY id LIMIT $2)`, utc(before), limit)
	if err != nil {
		return 0, dbErr(err)
	}
	return tag.RowsAffected(), nil
}

func scanAudit(row pgx.Row) (*connecthub.AuditEntry, error) {
	var (
		e       connecthub.AuditEntry
		changes []byte
	)
	if err := row.Scan(&e.ID, &e.At, &e.Actor, &e.ActorKind, &e.BreakGlass, &e.Action, &e.Target, &e.Client, &changes, &e.Detail); err != nil {
		return nil, err
	}
	e.At = utc(e.At)
	if err := store.DecodeAuditChanges(&e, changes); err != nil {
		return nil, err
	}
	return &e, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// affectedOrNotFound turns the result of a statement that must change a
// row into nil, the database error, or KindNotFound naming what and id.
func affectedOrNotFound(tag pgconn.CommandTag, err error, what, id string) error {
	if err != nil {
		return dbErr(err)
	}
	if tag.RowsAffected() == 0 {
		return connecthub.NotFound(what, id)
	}
	return nil
}
