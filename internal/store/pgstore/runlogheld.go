package pgstore

import (
	"context"

	"github.com/connecthub/connecthub/internal/store"
)

// RunLogAppendHeld implements store.HeldLogStore in one statement: the
// UPDATE that checks the holder also locks the run's row and moves its
// log's end, and the INSERT writes only what that UPDATE matched, so a
// rescue either comes before (nothing is written) or waits for it.
func (s *Store) RunLogAppendHeld(ctx context.Context, p store.RunLogAppendParams) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	if p.Chunk == "" {
		return false, nil
	}
	db, err := s.db()
	if err != nil {
		return false, err
	}
	tag, err := db.Exec(ctx, `WITH grown AS (
			UPDATE runs SET log_size = log_size + $3
			WHERE id = $1 AND status = 'RUNNING' AND node = $4 AND ($5::integer = 0 OR attempt = $5::integer)
			RETURNING id, log_size - $3 AS off)
		INSERT INTO run_logs (run_id, off, data) SELECT id, off, $2 FROM grown`,
		p.RunID, []byte(p.Chunk), int64(len(p.Chunk)), p.Node, p.Attempt)
	if err != nil {
		return false, dbErr(err)
	}
	return tag.RowsAffected() == 1, nil
}
