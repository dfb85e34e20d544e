package jobfile

import (
	"fmt"
	"path"

	"github.com/connecthub/connecthub"
)

// Select returns the jobs whose id matches glob (path.Match: oa.* is every
// job under oa.), or all of them when glob is "". A glob that is not
// valid is an error; a glob that matches no job is none (nil, nil).
func Select(jobs []connecthub.Job, glob string) ([]*connecthub.Job, error) {
	if _, err := path.Match(glob, ""); err != nil {
		return nil, fmt.Errorf("%q is not a valid glob: %w", glob, err)
	}
	var picked []*connecthub.Job
	for i := range jobs {
		if ok, _ := path.Match(glob, jobs[i].ID); glob == "" || ok {
			picked = append(picked, &jobs[i])
		}
	}
	return picked, nil
}

// Deleted lists the ids of the jobs a plan deletes, in its order, for the
// question asked before they go.
func Deleted(plan []connecthub.BatchPlanItem) []string {
	var ids []string
	for _, p := range plan {
		if p.Action == connecthub.BatchDelete {
			ids = append(ids, p.JobID)
		}
	}
	return ids
}
