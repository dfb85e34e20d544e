package pgstore

import (
	"context"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// JobsByIDs implements store.JobLookupStore with one statement.
func (s *Store) JobsByIDs(ctx context.Context, ids []string) (map[string]*connecthub.Job, error) {
	ids, err := store.JobLookupIDs(ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*connecthub.Job, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out[j.ID] = j
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	return out, nil
}
