package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// jobRunCount counts a job's runs through the API.
func (s *server) jobRunCount(jobID string) int {
	s.t.Helper()
	page, err := s.client.ListRuns(context.Background(), url.Values{"job_id": {jobID}, "limit": {"500"}})
	if err != nil {
		s.t.Fatalf("list runs: %v", err)
	}
	return len(page.Runs)
}

// TestRetentionEndToEnd: a job with keep_runs=3 run six times keeps its
// three newest runs after the cleaner's pass (the one every serve makes
// CONNECTHUB_CLEAN_DELAY after it starts, here 200ms), the metric counts the
// three deleted, and a pass logs a line.
// Bad retention fields are 400s naming the field.
func TestRetentionEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, nil)
	for _, c := range []struct{ body, field string }{
		{`{"id":"r.bad","handler":"noop","keep_runs":-1}`, "keep_runs"},
		{`{"id":"r.bad","handler":"noop","keep_for":"soon"}`, "keep_for"},
		{`{"id":"r.bad","handler":"noop","keep_for":"-2h"}`, "keep_for"},
		{`{"id":"r.bad","handler":"noop","keep_runs":"3"}`, "keep_runs"},
	} {
		code, body := s.do("POST", "/api/v1/jobs", c.body)
		if code != 400 || !strings.Contains(body, `"field":"`+c.field+`"`) {
			t.Errorf("%s: %d %s; want a 400 naming %s", c.body, code, body, c.field)
		}
	}
	j := s.createJob(`{"id":"r.keep3","handler":"noop","keep_runs":3,"keep_for":"30d"}`)
	if j.KeepRuns != 3 || j.KeepFor.D() != 30*24*time.Hour {
		t.Fatalf("job saved with keep_runs %d, keep_for %s", j.KeepRuns, j.KeepFor)
	}
	var ids []string
	for range 6 {
		r := s.runNow(j.ID)
		s.waitStatus(r.ID, connecthub.StatusSuccess)
		ids = append(ids, r.ID)
	}
	if n := s.jobRunCount(j.ID); n != 6 {
		t.Fatalf("%d runs before the pass, want 6", n)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	s = startServer(t, dir, map[string]string{"CONNECTHUB_CLEAN_DELAY": "200ms"})
	waitFor(t, "the cleaner's pass to keep 3 runs", 30*time.Second, func() bool { return s.jobRunCount(j.ID) == 3 })
	page, err := s.client.ListRuns(context.Background(), url.Values{"job_id": {j.ID}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range page.Runs {
		if want := ids[5-i]; r.ID != want {
			t.Errorf("run %d kept is %s, want the newest %s", i, r.ID, want)
		}
	}
	waitFor(t, "the pass's log line", 10*time.Second, func() bool { return strings.Contains(s.logs.String(), "run retention pass") })
	if _, metrics := s.do("GET", "/metrics", ""); !strings.Contains(metrics, "connecthub_runs_deleted_total 3") {
		t.Errorf("metrics lack connecthub_runs_deleted_total 3:\n%s", grepLines(metrics, "runs_deleted"))
	}
}

// TestRunsBulkEndToEnd: bulk actions through the API and the CLI: a dry
// run names the count, the action refuses a changed count, reports each
// run's outcome (a QUEUED run is not deleted, a finished run not
// cancelled), and the CLI does nothing without --yes.
func TestRunsBulkEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	s.createJob(`{"id":"b.done","handler":"noop"}`)
	s.createJob(`{"id":"b.stuck","handler":"noop","queue":"nobody-serves-this"}`)
	var done []string
	for range 3 {
		r := s.runNow("b.done")
		s.waitStatus(r.ID, connecthub.StatusSuccess)
		done = append(done, r.ID)
	}
	stuck := s.runNow("b.stuck")

	bulk := func(action, body string) (int, connecthub.BulkRunResult, string) {
		t.Helper()
		code, raw := s.do("POST", "/api/v1/runs/bulk/"+action, body)
		var res connecthub.BulkRunResult
		if code == 200 {
			if err := json.Unmarshal([]byte(raw), &res); err != nil {
				t.Fatalf("%s: %v\n%s", action, err, raw)
			}
		}
		return code, res, raw
	}
	// A dry run: what would a delete of these four runs do?
	idsBody := fmt.Sprintf(`"ids":[%q,%q,%q,%q,"01NOSUCHRUN"]`, done[0], done[1], done[2], stuck.ID)
	code, res, raw := bulk("delete", `{`+idsBody+`,"dry_run":true}`)
	if code != 200 || res.Matched != 5 || res.OK != 3 || res.Skipped != 2 || s.jobRunCount("b.done") != 3 {
		t.Fatalf("dry run: %d %s", code, raw)
	}
	if code, _, raw := bulk("delete", `{`+idsBody+`,"expect":4}`); code != 409 || !strings.Contains(raw, "count_changed") {
		t.Errorf("a changed count: %d %s; want 409 count_changed", code, raw)
	}
	if code, _, raw := bulk("delete", `{`+idsBody+`}`); code != 400 || !strings.Contains(raw, `"field":"expect"`) {
		t.Errorf("no expect: %d %s; want a 400 naming expect", code, raw)
	}
	if code, _, raw := bulk("retry", `{"filter":{"status":["DONE"]},"dry_run":true}`); code != 400 || !strings.Contains(raw, "filter.status") {
		t.Errorf("a bad status: %d %s; want a 400 naming filter.status", code, raw)
	}
	code, res, raw = bulk("delete", `{`+idsBody+`,"expect":5}`)
	if code != 200 || !res.Complete || res.OK != 3 || res.Skipped != 2 {
		t.Fatalf("delete: %d %s", code, raw)
	}
	for _, o := range res.Outcomes {
		if o.RunID == stuck.ID && (o.Outcome != connecthub.BulkSkipped || !strings.Contains(o.Reason, "QUEUED")) {
			t.Errorf("the queued run's outcome: %+v", o)
		}
		if o.RunID == "01NOSUCHRUN" && (o.Outcome != connecthub.BulkSkipped || !strings.Contains(o.Reason, "does not exist")) {
			t.Errorf("the missing run's outcome: %+v", o)
		}
	}
	if n := s.jobRunCount("b.done"); n != 0 {
		t.Errorf("%d finished runs left after the delete", n)
	}

	// The CLI: without --yes only a preview and exit 2; with it, done.
	code, out, errOut := runCLI(t, env, "", "runs", "cancel", "--job", "b.stuck")
	if code != 2 || !strings.Contains(out, "1 would be canceled") || !strings.Contains(errOut, "--yes") {
		t.Fatalf("runs cancel without --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	if r, _ := s.client.GetRun(context.Background(), stuck.ID); r.Status != connecthub.StatusQueued {
		t.Fatalf("a preview canceled the run: %s", r.Status)
	}
	code, out, errOut = runCLI(t, env, "", "runs", "cancel", "--job", "b.stuck", "--yes")
	if code != 0 || !strings.Contains(out, "1 canceled") {
		t.Fatalf("runs cancel --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	s.waitStatus(stuck.ID, connecthub.StatusCanceled)
	code, out, errOut = runCLI(t, env, "", "runs", "retry", "--job", "b.stuck", "--status", "CANCELED", "--yes")
	if code != 0 || !strings.Contains(out, "1 retried") {
		t.Fatalf("runs retry --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := s.jobRunCount("b.stuck"); n != 2 {
		t.Errorf("b.stuck has %d runs after the retry, want 2", n)
	}
	if code, _, errOut := runCLI(t, env, "", "runs", "delete"); code != 2 || !strings.Contains(errOut, "select runs") {
		t.Errorf("runs delete without a filter: exit %d %s", code, errOut)
	}
	// Each action is in the audit log.
	_, audit := s.do("GET", "/api/v1/audit?action=runs.", "")
	for _, a := range []string{"runs.bulk_delete", "runs.bulk_cancel", "runs.bulk_retry"} {
		if !strings.Contains(audit, a) {
			t.Errorf("audit log lacks %s:\n%s", a, audit)
		}
	}
}
