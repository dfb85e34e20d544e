package jobfile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestSelect picks jobs by a glob on their id; "" picks all, a bad glob is
// an error, a glob that matches nothing picks none.
func TestSelect(t *testing.T) {
	t.Parallel()
	jobs := []connecthub.Job{{ID: "oa.sync"}, {ID: "oa.report"}, {ID: "erp.sync"}}
	for _, tc := range []struct {
		glob, want string
		err        bool
	}{
		{"", "oa.sync,oa.report,erp.sync", false},
		{"oa.*", "oa.sync,oa.report", false},
		{"*.sync", "oa.sync,erp.sync", false},
		{"hr.*", "", false},
		{"oa.[", "", true},
	} {
		got, err := Select(jobs, tc.glob)
		ids := make([]string, len(got))
		for i, j := range got {
			ids[i] = j.ID
		}
		if (err != nil) != tc.err || strings.Join(ids, ",") != tc.want {
			t.Errorf("Select(%q): %v, %v; want %q (error %v)", tc.glob, ids, err, tc.want, tc.err)
		}
	}
	plan := []connecthub.BatchPlanItem{{JobID: "a", Action: connecthub.BatchDelete}, {JobID: "b", Action: connecthub.BatchUpdate}, {JobID: "c", Action: connecthub.BatchDelete}}
	if got := fmt.Sprint(Deleted(plan)); got != "[a c]" {
		t.Errorf("Deleted: %s, want [a c]", got)
	}
}
