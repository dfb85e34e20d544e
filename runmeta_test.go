package connecthub

import (
	"encoding/json"
	"testing"
)

// TestImportedFromString: the one line the CLI prints for an imported run
// keeps large numeric ids whole and names the Celery task when known.
func TestImportedFromString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ meta, want string }{
		{`{"imported_from":{"system":"python","job_logs_id":1234567,"celery_task_id":"c-1"}}`, "python job_logs 1234567, celery task c-1"},
		{`{"imported_from":{"system":"python","job_logs_id":"a7"}}`, "python job_logs a7"},
		{`{}`, ""},
	} {
		m, err := DecodeRunMeta(json.RawMessage(tc.meta))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.ImportedFrom.String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.meta, got, tc.want)
		}
	}
}
