package sqlitestore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// RunByRequestKey implements store.RequestKeyStore through the
// runs_request_key index.
func (s *Store) RunByRequestKey(ctx context.Context, jobID, key string) (*connecthub.Run, error) {
	if err := store.CheckRequestKeyLookup(jobID, key); err != nil {
		return nil, err
	}
	r, err := scanRun(s.r.QueryRowxContext(ctx, `SELECT `+store.RunColumns(false)+` FROM runs
		WHERE job_id = ? AND json_extract(meta, '$.request_key') = ?`, jobID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.RequestKeyMissing(jobID)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return r, nil
}
