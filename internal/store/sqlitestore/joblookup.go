package sqlitestore

import (
	"context"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// JobsByIDs implements store.JobLookupStore with one statement.
func (s *Store) JobsByIDs(ctx context.Context, ids []string) (map[string]*connecthub.Job, error) {
	return store.LookupJobs(ids, func(ids []string) ([]*connecthub.Job, error) {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		return queryAll(ctx, s.r, scanJob, `SELECT `+store.JobColumns+` FROM jobs WHERE id IN (`+placeholders(len(ids))+`)`, args...)
	})
}
