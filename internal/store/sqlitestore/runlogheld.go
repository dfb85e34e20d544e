package sqlitestore

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub/internal/store"
)

// RunLogAppendHeld implements store.HeldLogStore. The INSERT carries the
// holder check itself, and the size update follows in the same write
// transaction, which SQLite runs alone: no rescue can fall between them.
func (s *Store) RunLogAppendHeld(ctx context.Context, p store.RunLogAppendParams) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	if p.Chunk == "" {
		return false, nil
	}
	held := false
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO run_logs (run_id, off, data)
			SELECT id, log_size, ?1 FROM runs
			WHERE id = ?2 AND status = 'RUNNING' AND node = ?3 AND (?4 = 0 OR attempt = ?4)`,
			p.Chunk, p.RunID, p.Node, p.Attempt)
		if err != nil {
			return dbErr(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr(err)
		}
		if n == 0 {
			return nil // not held that way: nothing written
		}
		held = true
		_, err = tx.ExecContext(ctx, `UPDATE runs SET log_size = log_size + ?1 WHERE id = ?2`, len(p.Chunk), p.RunID)
		return dbErr(err)
	})
	return held && err == nil, err
}
