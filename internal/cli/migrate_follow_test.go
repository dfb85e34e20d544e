package cli_test

import (
	"database/sql"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
)

// TestFollowMigratingFromPython follows docs/migrating-from-python.md in
// its order, with the connecthub program as a process of its own and the
// Python worker as another: on a copy of an old database and its key file,
// look at the plan, import with the history, serve on a parallel port with
// its own worker pool, start connecthub-worker on the old code base with a
// token made as the doc makes it, check what step 5 says to check (every
// job listed, both nodes active, a run-now of a built-in job and of the
// custom Python job, unchanged, the imported history), then roll back:
// stop serve and export to the old database.
func TestFollowMigratingFromPython(t *testing.T) {
	t.Parallel()
	old := newOldConnectHub(t, "sqlite")
	dataDir := t.TempDir()
	local := map[string]string{"CONNECTHUB_DATA_DIR": dataDir, "CONNECTHUB_ADMIN_TOKEN": testToken}
	connecthubCmd := func(env map[string]string, args ...string) (int, string, string) {
		t.Helper()
		return runProgramEnv(t, dataDir, env, args...)
	}
	imp := []string{"import", "python", "--from", old.url, "--key", old.keyFile, "--history"}
	created := []string{"oa.check-token", "oa.export-form", "oa.legal-entity", "custom.report", "custom.broken"}

	// 1. The plan: nothing written, exit 1 for the refused jobs.
	code, out, errOut := connecthubCmd(local, append(imp, "--dry-run")...)
	if code != 1 || !strings.Contains(out, "dry run: nothing was written") || !strings.Contains(out, "refused   bad.truncated") {
		t.Fatalf("1. the plan: exit %d:\n%s%s", code, out, errOut)
	}
	// 2.2 The import.
	code, out, errOut = connecthubCmd(local, imp...)
	if code != 1 || !strings.Contains(out, "5 created") || !strings.Contains(out, "runs imported") {
		t.Fatalf("2.2 the import: exit %d:\n%s%s", code, out, errOut)
	}
	// 2.3 serve on a parallel port, its own worker pool on as by default.
	srv := startProc(t, dataDir, nil)
	remote := map[string]string{"CONNECTHUB_SERVER_URL": srv.url, "CONNECTHUB_ADMIN_TOKEN": testToken}
	// 2.4 The Python worker, with a token bound to the py- prefix.
	code, tok, errOut := connecthubCmd(remote, "token", "create", "--name", "py", "--node-prefix", "py-")
	if code != 0 || strings.TrimSpace(tok) == "" {
		t.Fatalf("2.4 token create: exit %d: %s", code, errOut)
	}
	startPyWorker(t, pythonWithCrypto(t), strings.TrimSpace(tok), "--server", srv.url, "--name", "py-host",
		"--legacy-path", old.extensions, "--heartbeat", "0.2", "--shutdown-timeout", "3")
	s := &server{t: t, client: srv.client, logs: srv.logs, url: srv.url, token: testToken}
	s.waitNode("py-host", connecthub.NodeActive)

	// 2.5 The checks before switching.
	code, out, errOut = connecthubCmd(remote, "job", "list")
	for _, id := range created {
		if code != 0 || !strings.Contains(out, id) {
			t.Errorf("2.5 job list lacks %s: exit %d:\n%s%s", id, code, out, errOut)
		}
	}
	code, out, _ = connecthubCmd(remote, "nodes", "list")
	if code != 0 || !strings.Contains(out, "py-host") || strings.Count(out, connecthub.NodeActive) < 2 {
		t.Errorf("2.5 nodes list: want the server and py-host active:\n%s", out)
	}
	// Run-now of a built-in job and of the custom job, unchanged, on the
	// Python worker: the server's pool leaves py: runs to it.
	for _, id := range []string{"oa.check-token", "custom.report"} {
		code, out, errOut = connecthubCmd(remote, "job", "run", id, "-f")
		if code != 0 {
			t.Errorf("2.5 job run %s -f: exit %d:\n%s%s", id, code, out, errOut)
		}
	}
	if !strings.Contains(out, "with key ******") || strings.Contains(out, old.desc.ReportSecret) {
		t.Errorf("2.5 custom.report's log is not the old job's, masked:\n%s", out)
	}
	code, out, errOut = connecthubCmd(remote, "run", "list", "--job", "custom.report", "--limit", "100", "--json")
	var list struct {
		Runs []connecthub.Run `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("2.5 run list: exit %d, %v: %s", code, err, errOut)
	}
	var imported, onWorker int
	var importedID string
	for _, r := range list.Runs {
		meta, _ := connecthub.DecodeRunMeta(r.Meta)
		switch {
		case meta.ImportedFrom != nil:
			imported, importedID = imported+1, r.ID
		case r.Status == connecthub.StatusSuccess && r.Node == "py-host":
			// A list leaves the result out: the run itself has it.
			got, err := s.client.GetRun(t.Context(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(got.Result), `"sent":1`) {
				t.Errorf("2.5 custom.report's run on py-host returned %s, not the old job's result", got.Result)
			}
			onWorker++
		}
	}
	if imported != old.desc.ReportLogs || onWorker < 1 {
		t.Fatalf("2.5 custom.report's runs: %d imported (want %d), %d SUCCESS on py-host (want at least 1)",
			imported, old.desc.ReportLogs, onWorker)
	}
	code, out, _ = connecthubCmd(remote, "run", "get", importedID)
	if code != 0 || !strings.Contains(out, "imported from:") || !strings.Contains(out, "python job_logs ") {
		t.Errorf("2.5 run get of an imported run does not say where it came from:\n%s", out)
	}
	if page := adminPage(t, s, "/admin/runs/"+importedID); !strings.Contains(page, "data-imported-from") {
		t.Errorf("2.5 the admin UI's run page does not show meta.imported_from")
	}
	lastSlot, err := time.Parse(time.RFC3339, old.desc.LastSlot)
	if err != nil {
		t.Fatal(err)
	}
	job, err := s.client.GetJob(t.Context(), "custom.report")
	if err != nil || job.NextRunAt == nil || !job.NextRunAt.Equal(lastSlot.Add(time.Hour)) {
		t.Errorf("2.5 custom.report's next fire: %v (%v), want the slot after last_run_at, %v", job, err, lastSlot.Add(time.Hour))
	}

	// Rolling back: stop serve, look, then write ConnectHub's state back.
	srv.signal(syscall.SIGTERM)
	if code := srv.wait(); code != 0 {
		t.Fatalf("serve exited %d on SIGTERM", code)
	}
	if _, err := old.db.Exec(`UPDATE jobs SET enabled = 0, last_run_at = NULL WHERE id = 'custom.report'`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = connecthubCmd(local, "export", "python", "--to", old.url, "--dry-run")
	if enabled, _ := oldJob(t, old.db, "custom.report"); code != 0 || enabled {
		t.Fatalf("export --dry-run: exit %d, wrote enabled %v:\n%s%s", code, enabled, out, errOut)
	}
	code, out, errOut = connecthubCmd(local, "export", "python", "--to", old.url)
	if code != 0 || !strings.Contains(out, "wrote enabled and last_run_at of 5 of 5 jobs") {
		t.Fatalf("export: exit %d:\n%s%s", code, out, errOut)
	}
	wantLast := lastSlot.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
	if enabled, last := oldJob(t, old.db, "custom.report"); !enabled || !strings.HasPrefix(last, wantLast) {
		t.Errorf("the old database after export: enabled %v, last_run_at %q; want true and %s", enabled, last, wantLast)
	}
}

// oldJob reads a job's enabled and last_run_at in the old database.
func oldJob(t *testing.T, db *sql.DB, id string) (bool, string) {
	t.Helper()
	var enabled any
	var last sql.NullString
	if err := db.QueryRow(`SELECT enabled, CAST(last_run_at AS text) FROM jobs WHERE id = ?`, id).Scan(&enabled, &last); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(enabled)
	return string(b) == "true" || string(b) == "1", last.String
}
