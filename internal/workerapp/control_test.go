package workerapp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/noop"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/httpapi"
)

// TestControlPort drives the control port of a worker that has not
// reached its server: the proc API answers with the shared statuses, stop
// and start demand the worker's token from a remote client, and start is
// refused once the worker is shutting down.
func TestControlPort(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.ServerURL = "http://127.0.0.1:1"
	reg := handler.NewRegistry()
	if err := reg.Add(noop.Spec()); err != nil {
		t.Fatal(err)
	}
	w, err := New(cfg, Options{Token: "tok", Name: "w-test", Handlers: reg, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	h := w.n.controlHandler(http.NotFoundHandler())

	do := func(path, token string) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodGet, path, nil) // from 192.0.2.1: not loopback
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v in %q", path, err, rec.Body.String())
		}
		return rec.Code, body
	}
	errCode := func(body map[string]any) any {
		e, _ := body["error"].(map[string]any)
		return e["code"]
	}

	for _, tt := range []struct {
		name, path, token string
		before            func()
		wantCode          int
		check             func(t *testing.T, body map[string]any)
	}{
		{name: "status before registration", path: "/api/v1/proc/status", wantCode: http.StatusOK,
			check: func(t *testing.T, body map[string]any) {
				if body["status"] != httpapi.ProcPending || body["name"] != "w-test" || body["server"] != cfg.ServerURL {
					t.Errorf("status = %v", body)
				}
			}},
		{name: "not ready before registration", path: "/health/ready", wantCode: http.StatusServiceUnavailable,
			check: func(t *testing.T, body map[string]any) {
				if body["status"] != "registering" {
					t.Errorf("ready = %v", body)
				}
			}},
		{name: "stop without the token", path: "/api/v1/proc/stop", wantCode: http.StatusForbidden,
			check: func(t *testing.T, body map[string]any) {
				if errCode(body) != "forbidden" {
					t.Errorf("body = %v", body)
				}
			}},
		{name: "stop with the token", path: "/api/v1/proc/stop", token: "tok", wantCode: http.StatusOK,
			check: func(t *testing.T, body map[string]any) {
				if body["status"] != httpapi.ProcAbort || body["paused"] != true {
					t.Errorf("status = %v", body)
				}
			}},
		{name: "start with a wrong token", path: "/api/v1/proc/start", token: "nope", wantCode: http.StatusForbidden},
		{name: "start while shutting down", path: "/api/v1/proc/start", token: "tok", wantCode: http.StatusConflict,
			before: func() { w.n.stopping.Store(true) },
			check: func(t *testing.T, body map[string]any) {
				if errCode(body) != "shutting_down" {
					t.Errorf("body = %v", body)
				}
			}},
	} {
		// In order: each step sees the state the previous ones left.
		if tt.before != nil {
			tt.before()
		}
		code, body := do(tt.path, tt.token)
		if code != tt.wantCode {
			t.Errorf("%s: %s = %d %v, want %d", tt.name, tt.path, code, body, tt.wantCode)
			continue
		}
		if tt.check != nil {
			tt.check(t, body)
		}
	}
}
