package cli_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestRunWithParamsEndToEnd: a run-now with params runs with them merged
// over the job's public_cfg and records them; params the handler's schema
// refuses, or a body that is not {"params": {...}}, are a 400 naming the
// field and enqueue nothing; a retry keeps the params; the CLI's --param
// flags reach the same place.
func TestRunWithParamsEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": s.token}
	s.createJob(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":30}}`)

	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"schema refuses", `{"params":{"seconds":"soon"}}`, http.StatusBadRequest, `"field":"params"`},
		{"unknown property", `{"params":{"minutes":1}}`, http.StatusBadRequest, `"field":"params"`},
		{"not an object", `{"params":[1]}`, http.StatusBadRequest, `"field":"params"`},
		{"unknown body field", `{"parameters":{}}`, http.StatusBadRequest, `unknown field \"parameters\"`},
	} {
		code, body := s.do("POST", "/api/v1/jobs/nap/run", tc.body)
		if code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s; want %d with %s", tc.name, code, body, tc.status, tc.want)
		}
	}
	code, body := s.do("GET", "/api/v1/runs?job_id=nap", "")
	if code != http.StatusOK || !strings.Contains(body, `"runs":[]`) {
		t.Fatalf("a refused run-now enqueued something: %s", body)
	}

	code, body = s.do("POST", "/api/v1/jobs/nap/run", `{"params":{"seconds":0}}`)
	if code != http.StatusAccepted {
		t.Fatalf("run with params: %d %s", code, body)
	}
	var run connecthub.Run
	if err := json.Unmarshal([]byte(body), &run); err != nil {
		t.Fatal(err)
	}
	done := s.waitStatus(run.ID, connecthub.StatusSuccess) // 0 s, not the configured 30
	if string(done.Snapshot.PublicCfg) != `{"seconds":0}` || string(done.Snapshot.Meta.Params) != `{"seconds":0}` {
		t.Errorf("snapshot public_cfg %s params %s", done.Snapshot.PublicCfg, done.Snapshot.Meta.Params)
	}
	retry, err := s.client.RetryRun(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	again := s.waitStatus(retry.ID, connecthub.StatusSuccess)
	if string(again.Snapshot.Meta.Params) != `{"seconds":0}` {
		t.Errorf("the retry lost the params: %s", again.Snapshot.Meta.Params)
	}

	code, out, errOut := runCLI(t, env, "", "job", "run", "nap", "--param", "seconds=0", "--json")
	var cliRun connecthub.Run
	if err := json.Unmarshal([]byte(out), &cliRun); code != 0 || err != nil {
		t.Fatalf("job run --param: %d %q %q", code, out, errOut)
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, cliRun.Snapshot.Meta.Params)
	if compact.String() != `{"seconds":0}` {
		t.Errorf("job run --param seconds=0 recorded params %s", cliRun.Snapshot.Meta.Params)
	}
	code, _, errOut = runCLI(t, env, "", "job", "run", "nap", "--param", "seconds")
	if code != 2 || !strings.Contains(errOut, "want key=value") {
		t.Errorf("job run --param without =: %d %q", code, errOut)
	}
}
