package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestAuditChannelAndRuleChanges: updating a channel or an alert rule
// records each changed field before → after, as a job update does, and a
// channel's write-only parts (URL query, signing secret, SMTP password)
// only by name.
func TestAuditChannelAndRuleChanges(t *testing.T) {
	t.Parallel()
	n := startNode(t, testConfig(t, t.TempDir()))
	const secret, query = "SEC-channel-secret-0123", "access_token=SEC-query-token"
	n.adminJSON(http.MethodPost, "/api/v1/channels", `{"name":"ops","type":"webhook","url":"http://127.0.0.1:9/hook?`+query+`","secret":"`+secret+`"}`, 201, nil)
	var rule connecthub.AlertRule
	n.adminJSON(http.MethodPost, "/api/v1/alert-rules", `{"name":"failures","event":"failure","channels":["ops"]}`, 201, &rule)

	cases := []struct {
		name, method, path, body, action string
		want                             []connecthub.AuditChange
	}{
		{"channel language only", http.MethodPatch, "/api/v1/channels/ops", `{"language":"zh-CN"}`, "channel.update",
			[]connecthub.AuditChange{{Field: "language", Before: "en", After: "zh-CN"}}},
		{"channel secret and host", http.MethodPatch, "/api/v1/channels/ops",
			`{"url":"http://127.0.0.2:9/hook?` + query + `2","secret":"another ` + secret + `"}`, "channel.update",
			[]connecthub.AuditChange{{Field: "url", Before: "http://127.0.0.1:9/hook?access_token=******", After: "http://127.0.0.2:9/hook?access_token=******"},
				{Field: "secret", After: "keys [query, secret] changed"}}},
		{"rule threshold and quiet period", http.MethodPut, "/api/v1/alert-rules/" + rule.ID,
			`{"name":"failures","event":"failure","threshold":"3","channels":["ops"],"quiet_period":"1h"}`, "alert_rule.update",
			[]connecthub.AuditChange{{Field: "quiet_period", Before: "10m0s", After: "1h0m0s"}, {Field: "threshold", Before: "1", After: "3"}}},
	}
	for _, tc := range cases {
		n.adminJSON(tc.method, tc.path, tc.body, http.StatusOK, nil)
		e := n.lastAudit(tc.action)
		raw, _ := json.Marshal(e)
		if strings.Contains(string(raw), "SEC-") {
			t.Fatalf("%s: the audit entry holds a secret value: %s", tc.name, raw)
		}
		if len(e.Changes) != len(tc.want) {
			t.Errorf("%s: changes %+v, want %+v", tc.name, e.Changes, tc.want)
			continue
		}
		for i := range tc.want {
			if e.Changes[i] != tc.want[i] {
				t.Errorf("%s: change %d = %+v, want %+v", tc.name, i, e.Changes[i], tc.want[i])
			}
		}
	}
}
