package store

import (
	"context"
	"slices"

	"github.com/connecthub/connecthub"
)

// JobLookupStore reads several jobs in one call: the pages that list runs
// show each run in its job's time zone, and a lookup per listed run (50 on
// a page of runs) costs a round trip each, which a loaded database
// multiplies.
type JobLookupStore interface {
	// JobsByIDs returns the jobs with the given ids, keyed by id, as
	// JobGet returns them (without last runs or duration statistics). An
	// id that names no job is absent from the map; an empty list returns
	// an empty map. It refuses more than MaxJobLookup distinct ids
	// (KindInvalid, field ids).
	JobsByIDs(ctx context.Context, ids []string) (map[string]*connecthub.Job, error)
}

// MaxJobLookup bounds a JobsByIDs call: a page lists at most MaxPageLimit
// runs, and a bound keeps the statement's parameters within SQLite's
// limit.
const MaxJobLookup = 1000

// LookupJobs is JobsByIDs written once: it checks the ids, answers an
// empty map for none, and otherwise calls read with the distinct ids,
// sorted, for the driver's one statement, which returns the jobs it finds;
// they are keyed by id here.
func LookupJobs(ids []string, read func(ids []string) ([]*connecthub.Job, error)) (map[string]*connecthub.Job, error) {
	ids, err := JobLookupIDs(ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*connecthub.Job, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	jobs, err := read(ids)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		out[j.ID] = j
	}
	return out, nil
}

// JobLookupIDs returns the distinct non-empty ids of a JobsByIDs call,
// sorted, or a KindInvalid error when there are more than MaxJobLookup.
func JobLookupIDs(ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxJobLookup {
		return nil, connecthub.FieldError("ids", "", "at most %d jobs can be looked up at once, got %d", MaxJobLookup, len(out))
	}
	return out, nil
}
