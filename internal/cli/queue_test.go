package cli_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestQueuePauseEndToEnd: a run of a paused queue stays QUEUED while a run
// queued after it on another queue is claimed and finishes; the queue's
// depth is still reported; resuming it lets the run go. Over the CLI and
// the API.
func TestQueuePauseEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_QUEUES": "default,payroll"})
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": s.token}
	s.createJob(`{"id":"pay","handler":"sleep","queue":"payroll","public_cfg":{"seconds":0}}`)
	s.createJob(`{"id":"other","handler":"sleep","public_cfg":{"seconds":0}}`)

	code, out, errOut := runCLI(t, env, "", "queue", "pause", "payroll")
	if code != 0 || !strings.Contains(out, "queue payroll paused") {
		t.Fatalf("queue pause: %d %q %q", code, out, errOut)
	}
	held := s.runNow("pay")
	passed := s.runNow("other")
	s.waitStatus(passed.ID, connecthub.StatusSuccess)
	if r, err := s.client.GetRun(t.Context(), held.ID); err != nil || r.Status != connecthub.StatusQueued {
		t.Fatalf("the paused queue's run: %+v, %v; want QUEUED", r, err)
	}
	code, body := s.do("GET", "/api/v1/queues", "")
	if code != http.StatusOK || !strings.Contains(body, `"queue":"payroll","depth":1`) || !strings.Contains(body, `"paused":true`) {
		t.Errorf("GET /queues: %d %s", code, body)
	}
	code, out, _ = runCLI(t, env, "", "queue", "list")
	if code != 0 || !strings.Contains(out, "payroll") || !strings.Contains(out, "paused by cli") {
		t.Errorf("queue list: %d %q", code, out)
	}
	code, body = s.do("POST", "/api/v1/queues/bad%20name/pause", "")
	if code != http.StatusBadRequest || !strings.Contains(body, `"field":"queue"`) {
		t.Errorf("pause of a bad name: %d %s", code, body)
	}

	code, out, _ = runCLI(t, env, "", "queue", "resume", "payroll")
	if code != 0 || !strings.Contains(out, "queue payroll resumed") {
		t.Fatalf("queue resume: %d %q", code, out)
	}
	s.waitStatus(held.ID, connecthub.StatusSuccess)
	code, out, _ = runCLI(t, env, "", "queue", "resume", "payroll")
	if code != 0 || !strings.Contains(out, "was not paused") {
		t.Errorf("second resume: %d %q", code, out)
	}
}
