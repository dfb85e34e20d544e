package cli_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/connecthub/connecthub"
)

func procStatus(t *testing.T, s *server, path string) (int, map[string]any) {
	t.Helper()
	code, body := s.do(http.MethodGet, path, "")
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return code, out
}

func TestProcAPIStopsAndStartsThePool(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	if code, st := procStatus(t, s, "/api/v1/proc/status"); code != 200 || st["status"] != "RUNNING" || st["max"] != float64(20) {
		t.Fatalf("status: %d %v", code, st)
	}
	if code, st := procStatus(t, s, "/api/v1/proc/stop"); code != 200 || st["status"] != "ABORT" || st["paused"] != true {
		t.Fatalf("stop: %d %v", code, st)
	}
	s.createJob(`{"id":"p","handler":"noop"}`)
	r := s.runNow("p")
	if code, st := procStatus(t, s, "/api/v1/proc/start"); code != 200 || st["status"] != "RUNNING" {
		t.Fatalf("start: %d %v", code, st)
	}
	s.waitStatus(r.ID, connecthub.StatusSuccess)
	// Without a token (and without a session) nothing is answered.
	if code, _ := s.do(http.MethodGet, "/api/v1/proc/stop", "", "Authorization", ""); code != http.StatusUnauthorized {
		t.Errorf("stop without a token: %d", code)
	}
}

func TestProcAPIWithoutPool(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_WORKERS": "0"})
	if code, st := procStatus(t, s, "/api/v1/proc/status"); code != 200 || st["status"] != "PENDING" {
		t.Fatalf("status: %d %v", code, st)
	}
	if code, st := procStatus(t, s, "/api/v1/proc/stop"); code != http.StatusConflict {
		t.Fatalf("stop without a pool: %d %v", code, st)
	}
}
