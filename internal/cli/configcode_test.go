package cli_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/testpg"
)

// seenSecrets records the password each run of test.seen-secret got, by
// run id, so that a test can tell which secret a job holds without the
// secret ever leaving the server in a response.
var seenSecrets sync.Map

var secretRecorder = handler.Spec{
	Name:       "test.seen-secret",
	SecretKeys: []string{"password"},
	Func: func(_ context.Context, t *handler.Task) (*handler.Result, error) {
		seenSecrets.Store(t.RunID, t.Secret("password"))
		return &handler.Result{Message: "recorded"}, nil
	},
}

// TestConfigAsCode goes the whole way a team does, on each store driver:
// export the jobs, edit the file, look at the plan, apply it, roll it
// back (definitions and secrets come back), see a rollback refused when a
// job changed since, diff report drift after a change made through the
// API, and prune. PostgreSQL comes from the test cluster: without one the
// case skips, or fails under CONNECTHUB_TEST_STRICT=1.
func TestConfigAsCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		driver string
		env    func(t *testing.T) map[string]string
	}{
		{"sqlite", func(*testing.T) map[string]string { return nil }},
		{"postgres", func(t *testing.T) map[string]string {
			testpg.Require(t)
			return map[string]string{"CONNECTHUB_DB_URL": testpg.URL(t)}
		}},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			t.Parallel()
			testConfigAsCode(t, tc.env(t))
		})
	}
}

// testConfigAsCode is TestConfigAsCode against a server whose store env
// names (nil: SQLite in the data dir).
func testConfigAsCode(t *testing.T, storeEnv map[string]string) {
	s := startServer(t, t.TempDir(), storeEnv, secretRecorder)
	s.createJob(`{"id":"oa.sync","handler":"test.seen-secret","cron_expr":"0 * * * *","description":"v1","secret_cfg":{"password":"old-pw"}}`)
	s.createJob(`{"id":"oa.report","handler":"noop","public_cfg":{"b":1,"a":[1,2]}}`)
	s.createJob(`{"id":"hr.keep","handler":"noop"}`)
	dir := t.TempDir()
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, env, "", args...)
	}
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := cli(args...)
		if code != 0 {
			t.Fatalf("connecthub %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	seen := func(jobID string) string {
		t.Helper()
		r := s.waitStatus(s.runNow(jobID).ID, connecthub.StatusSuccess)
		v, _ := seenSecrets.Load(r.ID)
		pw, _ := v.(string)
		return pw
	}
	job := func(id string) (*connecthub.Job, int) {
		t.Helper()
		j, err := s.client.GetJob(t.Context(), id)
		if err != nil {
			return nil, http.StatusNotFound
		}
		return j, http.StatusOK
	}

	// Export: one document per job, secrets as references, fire times.
	file := filepath.Join(dir, "oa.yaml")
	must("export", "--job", "oa.*", "-o", file)
	exported, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(exported)
	for _, want := range []string{"id: oa.sync", "id: oa.report", "password: ${OA_SYNC_PASSWORD}", "# job oa.sync: next fires ", "job oa.report: no cron_expr"} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "old-pw") || strings.Contains(text, "hr.keep") {
		t.Fatalf("export shows a secret value or a job --job did not select:\n%s", text)
	}
	if again := must("export", "--job", "oa.*"); again != text {
		t.Errorf("a second export differs from the first:\n%s\n---\n%s", again, text)
	}

	// Without the variable the references name, nothing is applied.
	code, _, errOut := cli("apply", "-f", dir, "--yes")
	if code == 0 || !strings.Contains(errOut, "OA_SYNC_PASSWORD is not set") || !strings.Contains(errOut, "secret_cfg.password (") || !strings.Contains(errOut, "oa.yaml, document 2, job oa.sync)") {
		t.Fatalf("apply with an unset secret variable: exit %d, %s", code, errOut)
	}

	// Edit: a new description and schedule, a new secret, a new job whose
	// secret comes from a file.
	env["OA_SYNC_PASSWORD"] = "new-pw"
	edited := strings.Replace(text, "description: v1", "description: v2", 1)
	edited = strings.Replace(edited, "cron_expr: 0 * * * *", "cron_expr: 30 2 * * *", 1)
	if err := os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("file-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	edited += "---\nid: oa.new\nhandler: test.seen-secret\nsecret_cfg:\n  password: file:pw.txt\n"
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}

	plan := must("apply", "-f", dir, "--dry-run")
	for _, want := range []string{"~ update oa.sync", "description: v1 → v2", "cron_expr: 0 * * * * → 30 2 * * *", "secret_cfg: keys [password] changed",
		"+ create oa.new", "Plan: 1 to create, 1 to update, 0 to delete, 1 unchanged.", "Dry run"} {
		if !strings.Contains(plan, want) {
			t.Errorf("dry-run plan lacks %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "new-pw") || strings.Contains(plan, "file-pw") || strings.Contains(plan, "\x1b[") {
		t.Errorf("the plan shows a secret or colours a non-terminal:\n%s", plan)
	}
	if j, _ := job("oa.sync"); j.Description != "v1" {
		t.Fatalf("a dry run changed the job: %q", j.Description)
	}
	// Not a terminal and no --yes: refused, nothing changed.
	if code, _, errOut := cli("apply", "-f", dir); code == 0 || !strings.Contains(errOut, "--yes") {
		t.Fatalf("apply without --yes off a terminal: exit %d, %s", code, errOut)
	}
	if code, _, _ := cli("diff", "-f", dir); code != 1 {
		t.Errorf("diff before the apply: exit %d, want 1", code)
	}

	out := must("apply", "-f", dir, "--yes")
	if !strings.Contains(out, "Applied as batch 1") {
		t.Fatalf("apply output:\n%s", out)
	}
	if j, _ := job("oa.sync"); j.Description != "v2" || j.CronExpr != "30 2 * * *" {
		t.Errorf("oa.sync after apply = %q %q", j.Description, j.CronExpr)
	}
	if got := seen("oa.sync"); got != "new-pw" {
		t.Errorf("oa.sync's run got password %q after the apply, want new-pw", got)
	}
	if got := seen("oa.new"); got != "file-pw" {
		t.Errorf("oa.new's run got password %q, want the file's", got)
	}
	if code, out, _ := cli("diff", "-f", dir); code != 0 || !strings.Contains(out, "0 to create, 0 to update") {
		t.Errorf("diff right after the apply: exit %d\n%s", code, out)
	}
	if out := must("batches", "list"); !strings.Contains(out, "apply") || !strings.Contains(out, "1 created, 1 updated, 0 deleted") || !strings.Contains(out, "oa.yaml") {
		t.Errorf("batches list:\n%s", out)
	}
	if out := must("batches", "show", "1"); !strings.Contains(out, "description: v1 → v2") || !strings.Contains(out, "+ create oa.new") {
		t.Errorf("batches show 1:\n%s", out)
	}

	// Rollback: the definition and the secret come back, the new job goes.
	if out := must("rollback", "1", "--yes"); !strings.Contains(out, "Rolled back batch 1 as batch 2") {
		t.Fatalf("rollback output:\n%s", out)
	}
	if j, _ := job("oa.sync"); j.Description != "v1" || j.CronExpr != "0 * * * *" {
		t.Errorf("oa.sync after rollback = %q %q", j.Description, j.CronExpr)
	}
	if got := seen("oa.sync"); got != "old-pw" {
		t.Errorf("oa.sync's run got password %q after the rollback, want old-pw", got)
	}
	if _, status := job("oa.new"); status != http.StatusNotFound {
		t.Errorf("oa.new survived the rollback of the batch that created it")
	}

	// Apply again, change a job through the API: diff reports the drift
	// and the rollback is refused, naming the job, changing nothing.
	if out := must("apply", "-f", dir, "--yes"); !strings.Contains(out, "Applied as batch 3") {
		t.Fatalf("second apply:\n%s", out)
	}
	if status, body := s.do(http.MethodPatch, "/api/v1/jobs/oa.sync", `{"description":"edited in the UI"}`); status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", status, body)
	}
	if code, out, _ := cli("diff", "-f", dir); code != 1 || !strings.Contains(out, "description: edited in the UI → v2") {
		t.Errorf("diff after an API change: exit %d, want 1\n%s", code, out)
	}
	code, _, errOut = cli("rollback", "3", "--yes")
	if code == 0 || !strings.Contains(errOut, "oa.sync") || !strings.Contains(errOut, "nothing was written") {
		t.Fatalf("conflicting rollback: exit %d, %s", code, errOut)
	}
	if _, status := job("oa.new"); status != http.StatusOK {
		t.Errorf("a refused rollback deleted oa.new")
	}

	// Prune deletes the jobs the files do not name.
	if out := must("apply", "-f", dir, "--prune", "--yes"); !strings.Contains(out, "- delete hr.keep") {
		t.Errorf("prune output:\n%s", out)
	}
	if _, status := job("hr.keep"); status != http.StatusNotFound {
		t.Errorf("prune kept hr.keep")
	}
}

// TestApplyRefusesBadFiles: a problem in any document applies nothing
// and names the file, the document and the field.
func TestApplyRefusesBadFiles(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), nil)
	env := map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken, "PW": "x"}
	good := "id: a.good\nhandler: noop\n---\n"
	for _, c := range []struct {
		name, doc, want string
	}{
		{"unknown field", "id: a.bad\nhandler: noop\ncron: '* * * * *'\n", `unknown field "cron"`},
		{"wrong type", "id: a.bad\nhandler: noop\nmax_attempts: many\n", "jobs.yaml, document 2, job a.bad): got string, want integer"},
		{"bad cron", "id: a.bad\nhandler: noop\ncron_expr: '61 * * * *'\n", "jobs.yaml, document 2, job a.bad): minute field"},
		{"unknown handler", "id: a.bad\nhandler: nope\n", "jobs.yaml, document 2, job a.bad): unknown handler"},
		{"plain secret", "id: a.bad\nhandler: noop\nsecret_cfg:\n  pw: hunter2\n", "jobs.yaml, document 2, job a.bad): a secret_cfg value must be a ${ENV} or file:PATH reference"},
		{"missing secret file", "id: a.bad\nhandler: noop\nsecret_cfg:\n  pw: file:nope.txt\n", "cannot read the secret file"},
		{"no id", "handler: noop\n", "jobs.yaml, document 2): id is required"},
		{"duplicate", "id: a.good\nhandler: noop\n", "jobs.yaml, document 1 (HTTP 400 duplicate_job)"},
		{"not yaml", "id: [\n", "jobs.yaml, document 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "jobs.yaml"), []byte(good+c.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, env, "", "apply", "-f", filepath.Join(dir, "jobs.yaml"), "--yes")
			if code == 0 || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr does not contain %q:\n%s%s", code, c.want, out, errOut)
			}
			if strings.Contains(errOut, "hunter2") {
				t.Errorf("the error shows the secret: %s", errOut)
			}
			if _, err := s.client.GetJob(t.Context(), "a.good"); err == nil {
				t.Errorf("a.good was applied despite the bad document")
			}
		})
	}
}
