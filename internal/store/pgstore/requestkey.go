package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// RunByRequestKey implements store.RequestKeyStore through the
// runs_request_key index.
func (s *Store) RunByRequestKey(ctx context.Context, jobID, key string) (*connecthub.Run, error) {
	if err := store.CheckRequestKeyLookup(jobID, key); err != nil {
		return nil, err
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	r, err := scanRun(db.QueryRow(ctx, `SELECT `+store.RunColumns(false)+` FROM runs
		WHERE job_id = $1 AND meta->>'request_key' = $2`, cleanText(jobID), key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.RequestKeyMissing(jobID)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return r, nil
}
