package pgstore

import (
	"context"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// JobsByIDs implements store.JobLookupStore with one statement.
func (s *Store) JobsByIDs(ctx context.Context, ids []string) (map[string]*connecthub.Job, error) {
	return store.LookupJobs(ids, func(ids []string) ([]*connecthub.Job, error) {
		return s.queryJobs(ctx, `SELECT `+store.JobColumns+` FROM jobs WHERE id = ANY($1)`, ids)
	})
}
