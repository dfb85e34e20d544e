package sqlitestore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub/internal/store"
)

// heldRunSQL is the holder check, on the runs row whose id is ?2, of node
// ?3 in attempt ?4 (any when 0).
const heldRunSQL = `FROM runs WHERE id = ?2 AND status = 'RUNNING' AND node = ?3 AND (?4 = 0 OR attempt = ?4)`

// RunLogAppendHeld implements store.HeldLogStore. Each write carries the
// holder check itself, and they share one write transaction, which SQLite
// runs alone: no rescue can fall between the check and the writes.
func (s *Store) RunLogAppendHeld(ctx context.Context, p store.RunLogAppendParams) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	if p.Chunk == "" && p.Held == nil {
		return false, nil
	}
	held := false
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		if p.Held != nil {
			res, err := tx.ExecContext(ctx, `INSERT INTO run_log_held (id, attempt, token) SELECT id, ?4, ?1 `+heldRunSQL+`
				ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt, token = excluded.token`,
				*p.Held, p.RunID, p.Node, p.Attempt)
			if held, err = applied(res, err); err != nil || !held {
				return err
			}
		}
		if p.Chunk == "" {
			return nil
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO run_logs (run_id, off, data) SELECT id, log_size, ?1 `+heldRunSQL,
			p.Chunk, p.RunID, p.Node, p.Attempt)
		if held, err = applied(res, err); err != nil || !held {
			return err // not held that way: nothing written
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET log_size = log_size + ?1 WHERE id = ?2`, len(p.Chunk), p.RunID)
		return dbErr(err)
	})
	return held && err == nil, err
}

// applied reports whether a statement changed a row.
func applied(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, dbErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, dbErr(err)
	}
	return n > 0, nil
}

// RunLogHeldGet implements store.HeldLogStore.
func (s *Store) RunLogHeldGet(ctx context.Context, runID string, attempt int) (string, error) {
	var token string
	err := s.read(ctx, func(tx *sqlx.Tx) error {
		return tx.GetContext(ctx, &token, `SELECT token FROM run_log_held WHERE id = ? AND attempt = ?`, runID, attempt)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return token, dbErr(err)
}
