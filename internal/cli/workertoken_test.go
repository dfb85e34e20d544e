package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
)

// TestWorkerTokenAttacks replays, against a real serve, what a worker
// token could do before worker tokens were bound to node names and queues:
// forge the outcome of a run the server executes, take over the server's
// node, delete another node, register for a queue it was not given, and
// claim the secrets of another queue's jobs. Each now fails with the
// documented status, and the attacked run ends normally.
func TestWorkerTokenAttacks(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	self := s.serverNode()
	attacker := s.workerToken("attacker")
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	wantErr := func(what string, status int, body string, wantStatus int, code string) {
		t.Helper()
		if status != wantStatus || !strings.Contains(body, `"code":"`+code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", what, status, body, wantStatus, code)
		}
	}

	// A run the server's own pool executes, with a secret.
	s.createJob(`{"id":"inhouse","handler":"sleep","public_cfg":{"seconds":1},"secret_cfg":{"k":"inhouse-secret"}}`)
	run := s.runNow("inhouse")
	s.waitStatus(run.ID, connecthub.StatusRunning)

	// Forged completion under the server's node name.
	forged := `{"name":"` + self.Name + `","attempt":1,"status":"SUCCESS","message":"forged"}`
	status, body := s.do("POST", "/api/v1/worker/runs/"+run.ID+"/complete", forged, as(attacker)...)
	wantErr("forged complete as the server's node", status, body, http.StatusForbidden, "node_not_allowed")
	status, body = s.do("POST", "/api/v1/worker/runs/"+run.ID+"/log", `{"name":"`+self.Name+`","attempt":1,"lines":["forged"]}`, as(attacker)...)
	wantErr("forged log as the server's node", status, body, http.StatusForbidden, "node_not_allowed")

	// A token whose prefix happens to match the server's node name still
	// cannot take the node over or speak for its runs.
	lookalike := s.workerTokenFor("lookalike", self.Name[:1])
	reg := `{"name":"` + self.Name + `","queues":["default"],"handlers":[{"name":"noop"}],"max_concurrency":1,"endpoint":"http://evil.example:9"}`
	status, body = s.do("POST", "/api/v1/worker/register", reg, as(lookalike)...)
	wantErr("re-register of the server's node", status, body, http.StatusConflict, "node_owned")
	status, body = s.do("POST", "/api/v1/worker/runs/"+run.ID+"/complete", forged, as(lookalike)...)
	wantErr("forged complete by a matching prefix", status, body, http.StatusForbidden, "node_not_allowed")

	// Prestop (delete) of a node the token is not bound to.
	status, body = s.do("POST", "/api/v1/worker/prestop", `{"name":"`+self.Name+`"}`, as(attacker)...)
	wantErr("prestop of the server's node", status, body, http.StatusForbidden, "node_not_allowed")
	status, body = s.do("POST", "/api/v1/worker/prestop", `{"name":"`+self.Name+`"}`, as(lookalike)...)
	wantErr("prestop of the server's node by a matching prefix", status, body, http.StatusForbidden, "node_not_allowed")
	if n, ok := s.node(self.Name); !ok || n.Kind != connecthub.NodeKindServer || n.Endpoint == "http://evil.example:9" {
		t.Errorf("the server's node after the attacks: %+v (listed %v)", n, ok)
	}

	// The attacked run ends as its real executor says.
	done := s.waitStatus(run.ID, connecthub.StatusSuccess)
	if done.Node != self.Name || done.Message == "forged" {
		t.Errorf("run after forged completions: node %q message %q", done.Node, done.Message)
	}
	logStatus, logBody := s.do("GET", "/api/v1/runs/"+run.ID+"/log", "")
	if logStatus != http.StatusOK || strings.Contains(logBody, "forged") {
		t.Errorf("run log after a forged append: %d %q", logStatus, logBody)
	}

	// Registering for a queue the token was not given.
	status, body = s.do("POST", "/api/v1/worker/register",
		`{"name":"attacker-1","queues":["default","payroll"],"handlers":[{"name":"remote.pay"}],"max_concurrency":1}`, as(attacker)...)
	wantErr("register with a foreign queue", status, body, http.StatusForbidden, "queue_not_allowed")

	// Advertising shell does not make a server with shell switched off
	// accept shell jobs.
	status, body = s.do("POST", "/api/v1/worker/register",
		`{"name":"attacker-sh","queues":["default"],"handlers":[{"name":"shell"}],"max_concurrency":1}`, as(attacker)...)
	if status != http.StatusOK {
		t.Fatalf("register advertising shell: %d %s", status, body)
	}
	status, body = s.do("POST", "/api/v1/jobs", `{"id":"sh","handler":"shell","public_cfg":{"command":"id"}}`)
	wantErr("a shell job on a shell-disabled server", status, body, http.StatusBadRequest, "handler_disabled")

	// A node an admin registered for more queues gives a worker token
	// only the runs of the token's queues: the payroll run and its secret
	// stay on the server.
	status, body = s.do("POST", "/api/v1/worker/register",
		`{"name":"attacker-shared","queues":["payroll","default"],"handlers":[{"name":"remote.pay"}],"max_concurrency":1}`)
	if status != http.StatusOK {
		t.Fatalf("admin register: %d %s", status, body)
	}
	s.createJob(`{"id":"pay","handler":"remote.pay","queue":"payroll","secret_cfg":{"k":"payroll-secret"}}`)
	payRun := s.runNow("pay")
	status, body = s.do("POST", "/api/v1/worker/claim", `{"name":"attacker-shared","max":5,"wait":"300ms"}`, as(attacker)...)
	if status != http.StatusOK || strings.Contains(body, "payroll-secret") || strings.Contains(body, payRun.ID) {
		t.Errorf("claim by a worker token of another queue: %d %s", status, body)
	}
	if r, err := s.client.GetRun(context.Background(), payRun.ID); err != nil || r.Status != connecthub.StatusQueued {
		t.Errorf("payroll run after the attacker's claim: %+v, %v", r, err)
	}
}

// TestWorkerTokenForgesAnotherWorkersRun: a worker token cannot complete
// a run another token's node holds, neither under its own node name
// (lease_lost) nor under the holder's (node_not_allowed); the holder then
// completes it normally.
func TestWorkerTokenForgesAnotherWorkersRun(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_WORKERS": "0"})
	ctx := context.Background()
	honest, err := client.New(s.url, s.workerToken("honest"), nil)
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := client.New(s.url, s.workerToken("attacker"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		c    *client.Client
		name string
	}{{honest, "honest-1"}, {attacker, "attacker-1"}} {
		if _, err := w.c.Register(ctx, client.RegisterRequest{Name: w.name, Queues: []string{"default"},
			Handlers: []connecthub.NodeHandler{{Name: "remote.job"}}, MaxConcurrency: 1}); err != nil {
			t.Fatalf("register %s: %v", w.name, err)
		}
	}
	s.createJob(`{"id":"r","handler":"remote.job","secret_cfg":{"k":"r-secret"}}`)
	run := s.runNow("r")
	resp, err := honest.Claim(ctx, client.ClaimRequest{Name: "honest-1", Max: 1, Wait: connecthub.Duration(10 * time.Second)})
	if err != nil || len(resp.Runs) != 1 || resp.Runs[0].ID != run.ID {
		t.Fatalf("honest claim: %+v, %v", resp, err)
	}
	// The secret went to the claim that leased the run, and only there.
	if resp.Runs[0].Secrets["k"] != "r-secret" {
		t.Errorf("the leasing claim lacks the run's secrets: %v", resp.Runs[0].Secrets)
	}
	forge := func(node string) error {
		_, err := attacker.CompleteRun(ctx, run.ID, client.CompleteRequest{Name: node, Attempt: 1,
			Status: client.CompleteSuccess, Message: "forged", Result: json.RawMessage(`{"forged":true}`)})
		return err
	}
	for _, tt := range []struct {
		node string
		code string
	}{{"attacker-1", "lease_lost"}, {"honest-1", "node_not_allowed"}} {
		var ce *client.APIError
		if err := forge(tt.node); !errors.As(err, &ce) || ce.Code != tt.code {
			t.Errorf("forged completion as %s: %v, want %s", tt.node, err, tt.code)
		}
	}
	// A second token whose prefix also covers the honest node cannot
	// register over it while it is alive, nor speak for it.
	rival := s.workerTokenFor("rival", "honest")
	status, body := s.do("POST", "/api/v1/worker/register",
		`{"name":"honest-1","queues":["default"],"handlers":[{"name":"remote.job"}],"max_concurrency":1}`, "Authorization", "Bearer "+rival)
	if status != http.StatusConflict || !strings.Contains(body, `"code":"node_owned"`) {
		t.Errorf("re-register of another token's node: %d %s, want 409 node_owned", status, body)
	}
	status, body = s.do("POST", "/api/v1/worker/runs/"+run.ID+"/complete",
		`{"name":"honest-1","attempt":1,"status":"SUCCESS","message":"forged"}`, "Authorization", "Bearer "+rival)
	if status != http.StatusForbidden || !strings.Contains(body, `"code":"node_not_allowed"`) {
		t.Errorf("completion for another token's node: %d %s, want 403 node_not_allowed", status, body)
	}
	done, err := honest.CompleteRun(ctx, run.ID, client.CompleteRequest{Name: "honest-1", Attempt: 1,
		Status: client.CompleteSuccess, Message: "honest"})
	if err != nil || done.Status != connecthub.StatusSuccess || done.Message != "honest" || done.Node != "honest-1" {
		t.Errorf("honest completion: %+v, %v", done, err)
	}
}
