package pgstore

import (
	"context"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// JobsByIDs implements store.JobLookupStore with one statement.
func (s *Store) JobsByIDs(ctx context.Context, ids []string) (map[string]*connecthub.Job, error) {
	return store.LookupJobs(ids, func(ids []string, out map[string]*connecthub.Job) error {
		db, err := s.db()
		if err != nil {
			return err
		}
		rows, err := db.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ANY($1)`, ids)
		if err != nil {
			return dbErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return dbErr(err)
			}
			out[j.ID] = j
		}
		return dbErr(rows.Err())
	})
}
