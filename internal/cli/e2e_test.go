package cli_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/handler"
)

// panicky panics inside the handler, to prove the process survives and the
// stack lands in the run's traceback.
var panicky = handler.Spec{
	Name: "test.panic",
	Func: func(context.Context, *handler.Task) (*handler.Result, error) {
		var m map[string]int
		m["boom"]++ // nil map write: a real runtime panic
		return nil, nil
	},
}

// leaky logs its secret, to prove masking.
var leaky = handler.Spec{
	Name:       "test.leak",
	SecretKeys: []string{"password"},
	Func: func(_ context.Context, t *handler.Task) (*handler.Result, error) {
		t.Log.Info("connecting with password " + t.Secret("password"))
		t.Log.Warn("password was " + t.Secret("password"))
		return &handler.Result{Message: "done"}, nil
	},
}

func TestE2ECronEverySecondNoDuplicates(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	s.createJob(`{"id":"tick","handler":"noop","cron_expr":"* * * * * *","concurrency":"allow"}`)
	ctx := context.Background()
	var runs []connecthub.Run
	waitFor(t, "5 successful cron runs", 30*time.Second, func() bool {
		page, err := s.client.ListRuns(ctx, map[string][]string{"job_id": {"tick"}, "status": {"SUCCESS"}, "limit": {"500"}})
		if err != nil {
			return false
		}
		runs = page.Runs
		return len(runs) >= 5
	})
	seen := map[time.Time]bool{}
	for _, r := range runs {
		if r.Trigger != connecthub.TriggerCron {
			t.Errorf("run %s trigger %s", r.ID, r.Trigger)
		}
		if seen[r.ScheduledFor] {
			t.Errorf("slot %s fired twice", r.ScheduledFor)
		}
		seen[r.ScheduledFor] = true
		if r.ScheduledFor.Nanosecond() != 0 {
			t.Errorf("slot %s is not on a whole second", r.ScheduledFor)
		}
	}
	j, err := s.client.GetJob(ctx, "tick")
	if err != nil {
		t.Fatal(err)
	}
	if j.LastRunAt == nil || j.NextRunAt == nil || !j.NextRunAt.After(*j.LastRunAt) {
		t.Errorf("job schedule not advanced: last %v next %v", j.LastRunAt, j.NextRunAt)
	}
}

func TestE2ERunNowRetryAndConflict(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	s.createJob(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":1}}`)
	r := s.runNow("nap")
	if r.Trigger != connecthub.TriggerManual || r.Status != connecthub.StatusQueued {
		t.Fatalf("run now: %+v", r)
	}
	s.waitStatus(r.ID, connecthub.StatusRunning)
	code, body := s.do(http.MethodPost, "/api/v1/runs/"+r.ID+"/retry", "")
	if code != http.StatusConflict || !strings.Contains(body, "run is still running; retry it after it ends") {
		t.Fatalf("retry while running: %d %s", code, body)
	}
	done := s.waitStatus(r.ID, connecthub.StatusSuccess)
	if done.StartedAt == nil || done.FinishedAt == nil || done.Duration == nil || done.Node == "" {
		t.Errorf("finished run lacks its record: %+v", done)
	}
	// Edit the job, then retry: the retry must use the old snapshot.
	if _, err := s.client.UpdateJob(context.Background(), "nap", []byte(`{"public_cfg":{"seconds":0}}`)); err != nil {
		t.Fatal(err)
	}
	retry, err := s.client.RetryRun(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if retry.Trigger != connecthub.TriggerRetry || retry.Snapshot.Meta.RetryOf != r.ID || string(retry.Snapshot.PublicCfg) != `{"seconds":1}` {
		t.Fatalf("retry run: trigger %s retry_of %s cfg %s", retry.Trigger, retry.Snapshot.Meta.RetryOf, retry.Snapshot.PublicCfg)
	}
	s.waitStatus(retry.ID, connecthub.StatusSuccess)
}

func TestE2ECancelTimeoutPanic(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil, panicky)
	s.createJob(`{"id":"long","handler":"sleep","public_cfg":{"seconds":60}}`)
	s.createJob(`{"id":"slow","handler":"sleep","public_cfg":{"seconds":60},"timeout":"300ms"}`)
	s.createJob(`{"id":"boom","handler":"test.panic"}`)

	long := s.runNow("long")
	s.waitStatus(long.ID, connecthub.StatusRunning)
	if _, err := s.client.CancelRun(context.Background(), long.ID); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(long.ID, connecthub.StatusCanceled)
	code, body := s.do(http.MethodPost, "/api/v1/runs/"+long.ID+"/cancel", "")
	if code != http.StatusConflict {
		t.Errorf("cancel of a canceled run: %d %s", code, body)
	}

	slow := s.runNow("slow")
	failed := s.waitStatus(slow.ID, connecthub.StatusFailure)
	if !strings.Contains(failed.Error, "timeout") {
		t.Errorf("timeout run error = %q", failed.Error)
	}

	boom := s.runNow("boom")
	crashed := s.waitStatus(boom.ID, connecthub.StatusFailure)
	if !strings.Contains(crashed.Error, "panic") || !strings.Contains(crashed.Traceback, "goroutine") {
		t.Errorf("panic run: error %q traceback %q", crashed.Error, crashed.Traceback)
	}
	// The process survived: the API still answers.
	if code, _ := s.do(http.MethodGet, "/health", ""); code != http.StatusOK {
		t.Errorf("health after panic = %d", code)
	}
}

func TestE2ESecretsNeverLeak(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, nil, leaky)
	const secretValue = "hunter2-very-secret-value"
	j := s.createJob(`{"id":"leaky","handler":"test.leak","secret_cfg":{"password":"` + secretValue + `"}}`)
	if !j.HasSecret || len(j.SecretKeys) != 1 || j.SecretKeys[0] != "password" {
		t.Fatalf("job secret view: %+v", j)
	}
	r := s.runNow("leaky")
	done := s.waitStatus(r.ID, connecthub.StatusSuccess)
	log, _, err := s.client.RunLog(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "password ******") {
		t.Errorf("run log not masked as expected:\n%s", log)
	}
	if !strings.Contains(done.Message, "Warnings") || !strings.Contains(done.Message, "******") {
		t.Errorf("message lacks the masked warning summary: %q", done.Message)
	}
	for _, path := range []string{"/api/v1/jobs/leaky", "/api/v1/jobs", "/api/v1/runs/" + r.ID, "/api/v1/runs/" + r.ID + "/log", "/api/v1/runs"} {
		code, body := s.do(http.MethodGet, path, "")
		if code != http.StatusOK || strings.Contains(body, secretValue) {
			t.Errorf("GET %s: %d, leaks secret: %v", path, code, strings.Contains(body, secretValue))
		}
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("stop exit code %d", code)
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), secretValue) {
			t.Errorf("secret in plain text in %s", path)
		}
		return nil
	})
	if strings.Contains(s.logs.String(), secretValue) || strings.Contains(s.logs.String(), testToken) {
		t.Errorf("process log leaks a secret or the admin token")
	}
}

func TestE2EAuthAndBadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), map[string]string{"CONNECTHUB_MAX_BODY_BYTES": "4096"})
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		field, code              string
	}{
		{"no token", "GET", "/api/v1/jobs", "", []string{"Authorization", ""}, 401, "", "unauthorized"},
		{"wrong token", "GET", "/api/v1/jobs", "", []string{"Authorization", "Bearer nope"}, 401, "", "unauthorized"},
		{"not json", "POST", "/api/v1/jobs", "{", nil, 400, "", "invalid_body"},
		{"array body", "POST", "/api/v1/jobs", "[]", nil, 400, "", "invalid_body"},
		{"missing id", "POST", "/api/v1/jobs", `{"handler":"noop"}`, nil, 400, "id", ""},
		{"bad id", "POST", "/api/v1/jobs", `{"id":"a b","handler":"noop"}`, nil, 400, "id", ""},
		{"unknown handler", "POST", "/api/v1/jobs", `{"id":"x","handler":"nope"}`, nil, 400, "handler", "unknown_handler"},
		{"bad cron", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","cron_expr":"61 * * * *"}`, nil, 400, "cron_expr", "invalid_cron"},
		{"bad tz", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","timezone":"Mars/Base"}`, nil, 400, "timezone", "invalid_timezone"},
		{"public_cfg array", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","public_cfg":[1]}`, nil, 400, "public_cfg", ""},
		{"public_cfg string", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","public_cfg":"{}"}`, nil, 400, "public_cfg", ""},
		{"public_cfg null", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","public_cfg":null}`, nil, 400, "public_cfg", ""},
		{"secret_cfg array", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","secret_cfg":[]}`, nil, 400, "secret_cfg", ""},
		{"max_attempts 0", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","max_attempts":0}`, nil, 400, "max_attempts", ""},
		{"max_attempts string", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","max_attempts":"3"}`, nil, 400, "max_attempts", ""},
		{"bad timeout", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","timeout":"soon"}`, nil, 400, "timeout", ""},
		{"bad concurrency", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","concurrency":"maybe"}`, nil, 400, "concurrency", ""},
		{"bad misfire", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","misfire":"never"}`, nil, 400, "misfire", ""},
		{"unknown field", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","cron":"* * * * *"}`, nil, 400, "cron", "unknown_field"},
		{"schema violation", "POST", "/api/v1/jobs", `{"id":"x","handler":"sleep","public_cfg":{"seconds":"lots"}}`, nil, 400, "public_cfg", ""},
		{"too large", "POST", "/api/v1/jobs", `{"id":"x","handler":"noop","description":"` + strings.Repeat("a", 5000) + `"}`, nil, 413, "", "body_too_large"},
		{"missing job", "GET", "/api/v1/jobs/nope", "", nil, 404, "", "not_found"},
		{"missing run", "GET", "/api/v1/runs/nope", "", nil, 404, "", "not_found"},
		{"run missing job", "POST", "/api/v1/jobs/nope/run", "", nil, 404, "", "not_found"},
		{"bad limit", "GET", "/api/v1/runs?limit=501", "", nil, 400, "limit", ""},
		{"bad status", "GET", "/api/v1/runs?status=DONE", "", nil, 400, "status", ""},
		{"bad since", "GET", "/api/v1/runs?since=yesterday", "", nil, 400, "since", ""},
		{"bad enabled", "GET", "/api/v1/jobs?enabled=maybe", "", nil, 400, "enabled", ""},
		{"cron next bad", "GET", "/api/v1/cron/next?expr=nope", "", nil, 400, "expr", "invalid_cron"},
		{"cron next n", "GET", "/api/v1/cron/next?expr=@daily&n=0", "", nil, 400, "n", ""},
		{"no route", "GET", "/api/v1/nothing", "", nil, 404, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := s.do(tc.method, tc.path, tc.body, tc.headers...)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %s", code, tc.status, body)
			}
			var eb struct {
				Error struct{ Code, Message, Field string } `json:"error"`
			}
			if err := jsonUnmarshal(body, &eb); err != nil || eb.Error.Message == "" {
				t.Fatalf("not a JSON error: %s", body)
			}
			if tc.field != "" && eb.Error.Field != tc.field {
				t.Errorf("field %q, want %q (%s)", eb.Error.Field, tc.field, body)
			}
			if tc.code != "" && eb.Error.Code != tc.code {
				t.Errorf("code %q, want %q (%s)", eb.Error.Code, tc.code, body)
			}
		})
	}
	// Nothing was half-written by the failed creates.
	page, err := s.client.ListJobs(context.Background(), nil)
	if err != nil || len(page.Jobs) != 0 {
		t.Errorf("jobs after bad creates: %v %v", page, err)
	}
	// A duplicate id is a 409.
	s.createJob(`{"id":"dup","handler":"noop"}`)
	_, err = s.client.CreateJob(context.Background(), []byte(`{"id":"dup","handler":"noop"}`))
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
		t.Errorf("duplicate create: %v", err)
	}
	// Health endpoints need no token.
	for path, want := range map[string]string{"/health": `"ok":true`, "/healthz": "ok", "/health/live": `"status":"ok"`, "/health/ready": `"status":"ok"`} {
		code, body := s.do(http.MethodGet, path, "", "Authorization", "")
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d %s", path, code, body)
		}
	}
	code, body := s.do(http.MethodGet, "/metrics", "", "Authorization", "")
	for _, name := range []string{"connecthub_queue_depth", "connecthub_queue_oldest_age_seconds", "connecthub_jobs", "connecthub_db_connections_active", "connecthub_nodes", "connecthub_scheduler_fire_delay_seconds", "go_goroutines", "process_resident_memory_bytes"} {
		if code != 200 || !strings.Contains(body, name) {
			t.Errorf("metrics: %d, %s missing", code, name)
		}
	}
}

func TestE2ESecretUpdateRules(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	s.createJob(`{"id":"sec","handler":"noop","secret_cfg":{"a":"1","b":"2"}}`)
	ctx := context.Background()
	steps := []struct {
		patch string
		keys  []string
	}{
		{`{"description":"x"}`, []string{"a", "b"}},
		{`{"secret_cfg":null}`, []string{"a", "b"}},
		{`{"secret_cfg":{"c":"3"}}`, []string{"c"}},
		{`{"secret_cfg":{}}`, nil},
	}
	for _, st := range steps {
		j, err := s.client.UpdateJob(ctx, "sec", []byte(st.patch))
		if err != nil {
			t.Fatalf("%s: %v", st.patch, err)
		}
		if strings.Join(j.SecretKeys, ",") != strings.Join(st.keys, ",") || j.HasSecret != (len(st.keys) > 0) {
			t.Errorf("after %s: keys %v has_secret %v, want %v", st.patch, j.SecretKeys, j.HasSecret, st.keys)
		}
	}
}
