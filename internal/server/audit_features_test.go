package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestAuditQueuesNotifyAndParams: pausing and resuming a queue, changing
// channels and alert rules, and a run-now with parameters are each in the
// audit log with who did it and on what, and the run's parameters are
// recorded with it; a channel's secret never is.
func TestAuditQueuesNotifyAndParams(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	c := clientFrom(t, "127.0.0.1")
	admin := []string{"Authorization", "Bearer " + nodeToken, "Content-Type", "application/json"}
	call := func(method, path, body string, want int) string {
		t.Helper()
		resp, b := n.send(c, n.request(method, path, body, admin...))
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	const secretValue = "SEC-channel-secret-0123"
	call(http.MethodPost, "/api/v1/queues/batch/pause", "", 200)
	call(http.MethodPost, "/api/v1/queues/batch/resume", "", 200)
	call(http.MethodPost, "/api/v1/channels", `{"name":"ops","type":"webhook","url":"http://127.0.0.1:9/hook","secret":"`+secretValue+`"}`, 201)
	call(http.MethodPatch, "/api/v1/channels/ops", `{"language":"zh-CN"}`, 200)
	var rule struct{ ID string }
	if err := json.Unmarshal([]byte(call(http.MethodPost, "/api/v1/alert-rules", `{"name":"all failures","event":"failure","channels":["ops"]}`, 201)), &rule); err != nil || rule.ID == "" {
		t.Fatalf("rule id: %v %q", err, rule.ID)
	}
	call(http.MethodPut, "/api/v1/alert-rules/"+rule.ID, `{"name":"all failures","event":"failure","threshold":"2","channels":["ops"]}`, 200)
	call(http.MethodDelete, "/api/v1/alert-rules/"+rule.ID, "", 204)
	call(http.MethodDelete, "/api/v1/channels/ops", "", 204)
	call(http.MethodPost, "/api/v1/jobs", `{"id":"nap","handler":"sleep","public_cfg":{"seconds":30},"enabled":false}`, 201)
	call(http.MethodPost, "/api/v1/jobs/nap/run", `{"params":{"seconds":0}}`, 202)

	raw := call(http.MethodGet, "/api/v1/audit", "", 200)
	if strings.Contains(raw, secretValue) {
		t.Fatalf("the audit log holds a channel secret:\n%s", raw)
	}
	var page struct{ Entries []connecthub.AuditEntry }
	if err := json.Unmarshal([]byte(raw), &page); err != nil {
		t.Fatal(err)
	}
	type row struct{ action, target string }
	var got []row
	for _, e := range page.Entries {
		if e.Actor != "admin_token" {
			t.Errorf("%s by %q, want admin_token", e.Action, e.Actor)
		}
		got = append(got, row{e.Action, e.Target})
	}
	want := []row{
		{"run.now", "job:nap"},
		{"job.create", "job:nap"},
		{"channel.delete", "channel:ops"},
		{"alert_rule.delete", "alert_rule:" + rule.ID},
		{"alert_rule.update", "alert_rule:" + rule.ID},
		{"alert_rule.create", "alert_rule:all failures"},
		{"channel.update", "channel:ops"},
		{"channel.create", "channel:ops"},
		{"queue.resume", "queue:batch"},
		{"queue.pause", "queue:batch"},
	}
	if len(got) != len(want) {
		t.Fatalf("audit = %v\nwant %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v", i, got[i], want[i])
		}
	}
	if ch := page.Entries[0].Changes; len(ch) != 1 || ch[0].Field != "params" || ch[0].After != `{"seconds":0}` {
		t.Errorf("run.now with params records %+v, want the params", ch)
	}
}
