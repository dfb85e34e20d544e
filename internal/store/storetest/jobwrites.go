package storetest

import (
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// exerciseJobWrites checks the transaction rules of JobCreate and
// JobDelete (store.CreateJob, store.DeleteJob): a refused change leaves
// neither the job nor a revision behind, whatever refused it.
func exerciseJobWrites(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"RefusedCreateWritesNothing": func(t *testing.T, s store.Store) {
			newJob(t, s, "taken", func(j *connecthub.Job) { j.Description = "the first" })
			for _, tc := range []struct {
				name, id   string
				job        *connecthub.Job
				kind       connecthub.Kind
				code       string
				revisions  []string
				stillThere bool
			}{
				{"TakenID", "taken", testJob2("taken", func(j *connecthub.Job) { j.Description = "the second" }),
					connecthub.KindConflict, "job_exists", []string{"1 create"}, true},
				{"ChainsToNothing", "dangling", testJob2("dangling", chained(nil, []string{"ghost"})),
					connecthub.KindInvalid, "", nil, false},
				{"ChainsToItself", "loop", testJob2("loop", chained([]string{"loop"}, nil)),
					connecthub.KindInvalid, "", nil, false},
				{"BadID", "a b", testJob("a b"), connecthub.KindInvalid, "", nil, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					err := s.JobCreate(t.Context(), tc.job)
					if tc.code != "" {
						requireCode(t, err, tc.kind, tc.code, tc.id)
					} else {
						requireKind(t, err, tc.kind)
					}
					if !tc.stillThere {
						if _, err := s.JobGet(t.Context(), tc.id); !connecthub.IsKind(err, connecthub.KindNotFound) {
							t.Errorf("JobGet(%s) after a refused create = %v, want not found", tc.id, err)
						}
					}
					if tc.id != "a b" {
						checkRevisions(t, s, tc.id, tc.revisions...)
					}
				})
			}
			if got := getJob(t, s, "taken").Description; got != "the first" {
				t.Errorf("the taken id's job has description %q after a refused create, want the first", got)
			}
		},
		"RefusedDeleteWritesNothing": func(t *testing.T, s store.Store) {
			newJob(t, s, "target")
			newJob(t, s, "source", chained([]string{"target"}, nil))
			requireCode(t, s.JobDelete(t.Context(), "target"), connecthub.KindConflict, "job_chained", `"source"`)
			if got := getJob(t, s, "target"); got.ID != "target" {
				t.Fatalf("JobGet(target) = %+v", got)
			}
			checkRevisions(t, s, "target", "1 create")
			requireKind(t, s.JobDelete(t.Context(), "missing"), connecthub.KindNotFound)
			checkRevisions(t, s, "missing")
			// Once nothing chains to it, the job goes, and its revision
			// follows the ones the refusals did not write.
			if err := s.JobDelete(t.Context(), "source"); err != nil {
				t.Fatal(err)
			}
			if err := s.JobDelete(t.Context(), "target"); err != nil {
				t.Fatal(err)
			}
			checkRevisions(t, s, "target", "2 delete", "1 create")
			requireKind(t, s.JobDelete(t.Context(), "target"), connecthub.KindNotFound)
			checkRevisions(t, s, "target", "2 delete", "1 create")
		},
		"RecreateAfterDelete": func(t *testing.T, s store.Store) {
			newJob(t, s, "phoenix", func(j *connecthub.Job) { j.Description = "first life" })
			if err := s.JobDelete(t.Context(), "phoenix"); err != nil {
				t.Fatal(err)
			}
			newJob(t, s, "phoenix", func(j *connecthub.Job) { j.Description = "second life" })
			revs := checkRevisions(t, s, "phoenix", "3 create", "2 delete", "1 create")
			if got := definitionField(t, revs[0], "description"); got != `"second life"` {
				t.Errorf("the new create revision keeps description %s", got)
			}
			if got := getJob(t, s, "phoenix").Description; got != "second life" {
				t.Errorf("the recreated job has description %q", got)
			}
		},
	})
}
