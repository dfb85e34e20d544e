package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestRunNowIdempotencyKey: a run-now request sent again with its
// Idempotency-Key gets the first request's run and makes no other, even
// when the copies race; the same key with other params is refused, a bad
// key names the header, and only the requests that made a run are in the
// audit log.
func TestRunNowIdempotencyKey(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	c := clientFrom(t, "127.0.0.1")
	type answer struct {
		code     int
		replayed bool
		run      connecthub.Run
		err      struct{ Error struct{ Code, Field string } }
	}
	post := func(path, body, key string) answer {
		t.Helper()
		headers := []string{"Authorization", "Bearer " + nodeToken, "Content-Type", "application/json"}
		if key != "" {
			headers = append(headers, "Idempotency-Key", key)
		}
		resp, b := n.send(c, n.request(http.MethodPost, path, body, headers...))
		a := answer{code: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
		target := any(&a.run)
		if a.code >= 400 {
			target = &a.err
		}
		if err := json.Unmarshal([]byte(b), target); err != nil {
			t.Fatalf("POST %s: %d %s: %v", path, a.code, b, err)
		}
		return a
	}
	if a := post("/api/v1/jobs", `{"id":"nap","handler":"sleep","public_cfg":{"seconds":30},"enabled":false}`, ""); a.code != 201 {
		t.Fatalf("create: %d", a.code)
	}

	first := post("/api/v1/jobs/nap/run", `{"params":{"seconds":0}}`, "req-1")
	if first.code != http.StatusAccepted || first.replayed || first.run.ID == "" {
		t.Fatalf("first request: %d, replayed %v, run %q", first.code, first.replayed, first.run.ID)
	}
	tests := []struct {
		name, body, key string
		code            int
		replayed        bool
		errCode         string
	}{
		{"the same request again", `{"params":{"seconds":0}}`, "req-1", 202, true, ""},
		{"the same params written otherwise", `{"params": {"seconds": 0.0}}`, "req-1", 202, true, ""},
		{"other params", `{"params":{"seconds":1}}`, "req-1", 422, false, "idempotency_key_reused"},
		{"no params", ``, "req-1", 422, false, "idempotency_key_reused"},
		{"a key too long", ``, strings.Repeat("k", connecthub.MaxRequestKey+1), 400, false, "invalid_idempotency_key"},
		{"another key", `{"params":{"seconds":0}}`, "req-2", 202, false, ""},
	}
	for _, tt := range tests {
		a := post("/api/v1/jobs/nap/run", tt.body, tt.key)
		if a.code != tt.code || a.replayed != tt.replayed || a.err.Error.Code != tt.errCode {
			t.Errorf("%s: %d, replayed %v, error %q; want %d, %v, %q", tt.name, a.code, a.replayed, a.err.Error.Code, tt.code, tt.replayed, tt.errCode)
		}
		if tt.replayed && a.run.ID != first.run.ID {
			t.Errorf("%s: run %s, want the first request's %s", tt.name, a.run.ID, first.run.ID)
		}
		if tt.code >= 400 && a.err.Error.Field != connecthub.RequestKeyField {
			t.Errorf("%s: the error names field %q, want %s", tt.name, a.err.Error.Field, connecthub.RequestKeyField)
		}
	}

	// Copies of one request racing each other make one run.
	const copies = 8
	ids := make([]string, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			a := post("/api/v1/jobs/nap/run", ``, "req-race")
			if a.code != http.StatusAccepted {
				t.Errorf("racing copy %d: %d %q", i, a.code, a.err.Error.Code)
			}
			ids[i] = a.run.ID
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("racing copies got runs %v, want one", ids)
		}
	}

	// One run per key: req-1, req-2 and req-race.
	resp, b := n.send(c, n.request(http.MethodGet, "/api/v1/runs?job_id=nap", "", "Authorization", "Bearer "+nodeToken))
	var page struct{ Runs []connecthub.Run }
	if err := json.Unmarshal([]byte(b), &page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("runs: %d %s", resp.StatusCode, b)
	}
	resp, b = n.send(c, n.request(http.MethodGet, "/api/v1/audit", "", "Authorization", "Bearer "+nodeToken))
	if resp.StatusCode != 200 {
		t.Fatalf("audit: %d %s", resp.StatusCode, b)
	}
	if got := strings.Count(b, `"run.now"`); got != len(page.Runs) {
		t.Errorf("%d run.now audit entries for %d runs made", got, len(page.Runs))
	}
	if len(page.Runs) != 3 {
		t.Errorf("%d runs of nap, want 3 (one per key)", len(page.Runs))
	}
}
