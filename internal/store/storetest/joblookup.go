package storetest

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func exerciseJobLookup(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"AsJobGet": func(t *testing.T, s store.Store) {
			newJob(t, s, "look-a")
			newJob(t, s, "look-b", func(j *connecthub.Job) {
				j.Timezone = "Europe/Berlin"
				j.HasSecret, j.SecretCfg, j.SecretKeys = false, "", nil
			})
			newJob(t, s, "look-c")
			got, err := s.JobsByIDs(t.Context(), []string{"look-b", "look-a", "look-a", "look-missing", ""})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("JobsByIDs returned %d jobs, want look-a and look-b: %v", len(got), got)
			}
			for _, id := range []string{"look-a", "look-b"} {
				want, err := s.JobGet(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got[id], want) {
					t.Errorf("JobsByIDs[%s] =\n %+v\nJobGet =\n %+v", id, got[id], want)
				}
			}
			if got["look-b"].Location().String() != "Europe/Berlin" {
				t.Errorf("look-b's time zone = %s", got["look-b"].Location())
			}
		},
		"Empty": func(t *testing.T, s store.Store) {
			newJob(t, s, "look-a")
			for _, ids := range [][]string{nil, {}, {""}, {"look-missing"}} {
				got, err := s.JobsByIDs(t.Context(), ids)
				if err != nil || got == nil || len(got) != 0 {
					t.Errorf("JobsByIDs(%q) = %v, %v; want an empty map", ids, got, err)
				}
			}
		},
		"Bound": func(t *testing.T, s store.Store) {
			newJob(t, s, "look-0999")
			ids := make([]string, store.MaxJobLookup+1)
			for i := range ids {
				ids[i] = fmt.Sprintf("look-%04d", i)
			}
			got, err := s.JobsByIDs(t.Context(), ids[:store.MaxJobLookup])
			if err != nil || len(got) != 1 || got["look-0999"] == nil {
				t.Errorf("JobsByIDs of %d ids = %d jobs, %v; want look-0999", store.MaxJobLookup, len(got), err)
			}
			// Repeats count once.
			if _, err := s.JobsByIDs(t.Context(), append(ids[:store.MaxJobLookup:store.MaxJobLookup], ids[0], ids[1])); err != nil {
				t.Errorf("JobsByIDs of %d distinct ids and repeats: %v", store.MaxJobLookup, err)
			}
			_, err = s.JobsByIDs(t.Context(), ids)
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}
