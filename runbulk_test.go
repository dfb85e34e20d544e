package connecthub

import (
	"fmt"
	"testing"
)

// TestParseRunStatuses reads a status list as the filters give it; what
// is not a status is left for RunFilter to refuse, naming the field.
func TestParseRunStatuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "[]"},
		{"failure", "[FAILURE]"},
		{" failure , CANCELED,,", "[FAILURE CANCELED]"},
		{"bogus", "[BOGUS]"},
	} {
		if got := fmt.Sprint(ParseRunStatuses(tc.in)); got != tc.want {
			t.Errorf("ParseRunStatuses(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if _, err := (BulkRunFilter{Status: ParseRunStatuses("bogus")}).RunFilter(); err == nil {
		t.Error("RunFilter took the status BOGUS")
	}
}
