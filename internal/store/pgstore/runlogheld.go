package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub/internal/store"
)

// RunLogAppendHeld implements store.HeldLogStore in one statement: holder
// checks and locks the run's row (re-checked after any wait, so a rescue
// either comes first and nothing is written, or waits), grown moves the
// log's end for a chunk, and the inserts write only what holder matched.
func (s *Store) RunLogAppendHeld(ctx context.Context, p store.RunLogAppendParams) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	if p.Chunk == "" && p.Held == nil {
		return false, nil
	}
	db, err := s.db()
	if err != nil {
		return false, err
	}
	heldToken := ""
	if p.Held != nil {
		heldToken = *p.Held
	}
	var n int
	err = db.QueryRow(ctx, `WITH holder AS (
			SELECT id FROM runs
			WHERE id = $1 AND status = 'RUNNING' AND node = $4 AND ($5::integer = 0 OR attempt = $5::integer)
			FOR UPDATE),
		grown AS (
			UPDATE runs SET log_size = log_size + $3 FROM holder
			WHERE runs.id = holder.id AND $3 > 0
			RETURNING runs.id, runs.log_size - $3 AS off),
		logged AS (
			INSERT INTO run_logs (run_id, off, data) SELECT id, off, $2 FROM grown),
		kept AS (
			INSERT INTO run_log_held (id, attempt, token) SELECT id, $5::integer, $7 FROM holder WHERE $6
			ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt, token = excluded.token)
		SELECT count(*) FROM holder`,
		p.RunID, []byte(p.Chunk), int64(len(p.Chunk)), p.Node, p.Attempt, p.Held != nil, heldToken).Scan(&n)
	if err != nil {
		return false, dbErr(err)
	}
	return n == 1, nil
}

// RunLogHeldGet implements store.HeldLogStore.
func (s *Store) RunLogHeldGet(ctx context.Context, runID string, attempt int) (string, error) {
	db, err := s.db()
	if err != nil {
		return "", err
	}
	var token string
	err = db.QueryRow(ctx, `SELECT token FROM run_log_held WHERE id = $1 AND attempt = $2`, runID, attempt).Scan(&token)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", dbErr(err)
	}
	return token, nil
}
