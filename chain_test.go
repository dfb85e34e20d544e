package connecthub

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecodeChainFields(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		body      string
		onSuccess []string
		onFailure []string
		errField  string
	}{
		{"lists", `{"id":"a","handler":"noop","on_success":["b","c"],"on_failure":["d"]}`, []string{"b", "c"}, []string{"d"}, ""},
		{"comma string", `{"id":"a","handler":"noop","on_success":" b, c ,b","on_failure":""}`, []string{"b", "c"}, []string{}, ""},
		{"absent", `{"id":"a","handler":"noop"}`, []string{}, []string{}, ""},
		{"not a list", `{"id":"a","handler":"noop","on_success":{"b":1}}`, nil, nil, "on_success"},
		{"not ids", `{"id":"a","handler":"noop","on_failure":["b c?"]}`, nil, nil, "on_failure"},
		{"too many", `{"id":"a","handler":"noop","on_success":"` + manyIDs(MaxChainTargets+1) + `"}`, nil, nil, "on_success"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := DecodeJobInput([]byte(tc.body))
			var j *Job
			if err == nil {
				j, _, err = NewJob(in, JobDefaults{Timezone: "UTC"}, now)
			}
			if err == nil {
				err = j.Validate()
			}
			if tc.errField != "" {
				if e, ok := err.(*Error); !ok || e.Field != tc.errField || e.Kind != KindInvalid {
					t.Fatalf("err = %v, want a field error on %s", err, tc.errField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(j.OnSuccess, tc.onSuccess) || !slices.Equal(j.OnFailure, tc.onFailure) || j.OnSuccess == nil || j.OnFailure == nil {
				t.Errorf("on_success %q on_failure %q, want %q %q", j.OnSuccess, j.OnFailure, tc.onSuccess, tc.onFailure)
			}
		})
	}
}

func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "j" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return strings.Join(ids, ",")
}

func TestChainTargets(t *testing.T) {
	t.Parallel()
	j := &Job{OnSuccess: []string{"s"}, OnFailure: []string{"f"}}
	for status, want := range map[RunStatus]string{StatusSuccess: "s", StatusFailure: "f", StatusCanceled: "", StatusSkipped: ""} {
		if got := j.ChainTargets(status); (want == "" && len(got) != 0) || (want != "" && (len(got) != 1 || got[0] != want)) {
			t.Errorf("%s: %v, want %q", status, got, want)
		}
	}
}
