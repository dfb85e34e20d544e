package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
)

// TestRevisionsAPI: through the API, every change of a job is a
// revision with who made it; the revisions, their diff and the deleted
// jobs never show a secret value (nor its encrypted form); a restore of
// a deleted job brings its secret back and is itself audited.
func TestRevisionsAPI(t *testing.T) {
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
		if strings.Contains(b, "s3cr3t") || strings.Contains(b, "gAAAAA") {
			t.Fatalf("%s %s shows a secret or its token:\n%s", method, path, b)
		}
		return b
	}
	call(http.MethodPost, "/api/v1/jobs", `{"id":"rev","handler":"noop","cron_expr":"0 * * * *","secret_cfg":{"api_key":"s3cr3t-1"}}`, 201)
	call(http.MethodPatch, "/api/v1/jobs/rev", `{"cron_expr":"*/5 * * * *","secret_cfg":{"api_key":"s3cr3t-2","token":"s3cr3t-t"}}`, 200)
	call(http.MethodPost, "/api/v1/jobs/rev/disable", "", 200)
	call(http.MethodDelete, "/api/v1/jobs/rev", "", 204)

	var page struct {
		Revisions []connecthub.Revision
	}
	if err := json.Unmarshal([]byte(call(http.MethodGet, "/api/v1/jobs/rev/revisions", "", 200)), &page); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range page.Revisions {
		got = append(got, r.Action+" by "+r.Actor)
	}
	if want := "delete by admin_token, update by admin_token, update by admin_token, create by admin_token"; strings.Join(got, ", ") != want {
		t.Fatalf("revisions = %q, want %q", strings.Join(got, ", "), want)
	}
	var d connecthub.RevisionDiff
	if err := json.Unmarshal([]byte(call(http.MethodGet, "/api/v1/jobs/rev/revisions/1/diff/2", "", 200)), &d); err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, ch := range d.Changes {
		fields[ch.Field] = ch.Before + " → " + ch.After
	}
	for field, want := range map[string]string{"cron_expr": "0 * * * * → */5 * * * *", "secret_keys": "api_key → api_key, token",
		"secret_cfg": " → keys [api_key, token] changed"} {
		if fields[field] != want {
			t.Errorf("diff of %s = %q, want %q (all: %v)", field, fields[field], want, fields)
		}
	}
	if !strings.Contains(call(http.MethodGet, "/api/v1/deleted-jobs", "", 200), `"job_id":"rev"`) {
		t.Error("the deleted job is not listed")
	}
	call(http.MethodGet, "/api/v1/jobs/rev/revisions/0", "", 400)
	call(http.MethodGet, "/api/v1/jobs/rev/revisions/99", "", 404)

	call(http.MethodPost, "/api/v1/jobs/rev/revisions/2/restore", "", 200)
	var j connecthub.Job
	if err := json.Unmarshal([]byte(call(http.MethodGet, "/api/v1/jobs/rev", "", 200)), &j); err != nil {
		t.Fatal(err)
	}
	if j.CronExpr != "*/5 * * * *" || !j.Enabled || strings.Join(j.SecretKeys, ",") != "api_key,token" || j.NextRunAt == nil {
		t.Errorf("restored job = %+v; want revision 2's schedule and secret keys, enabled and planned", j)
	}
	if err := json.Unmarshal([]byte(call(http.MethodGet, "/api/v1/jobs/rev/revisions/2/diff/5", "", 200)), &d); err != nil || len(d.Changes) != 0 {
		t.Errorf("the restored revision differs from revision 2 (secret included): %+v, %v", d.Changes, err)
	}
	if !strings.Contains(call(http.MethodGet, "/api/v1/audit?action=job.restore", "", 200), `"detail":"from revision 2"`) {
		t.Error("the restore is not in the audit log")
	}
}
