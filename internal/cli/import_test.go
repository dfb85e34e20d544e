package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/integrations/didi/diditest"
	"github.com/connecthub/connecthub/integrations/seeyon/seeyontest"
	"github.com/connecthub/connecthub/internal/testpg"
)

// fixtureScript builds a Python ConnectHub database (see its doc string).
var fixtureScript = filepath.Join("..", "pyimport", "testdata", "make_fixture.py")

// fixtureDesc is what the fixture script reports about what it made.
type fixtureDesc struct {
	Jobs         []string `json:"jobs"`
	Refused      []string `json:"refused"`
	ReportSecret string   `json:"report_secret"`
	LastSlot     string   `json:"last_slot"`
	Logs         int      `json:"logs"`
	ReportLogs   int      `json:"report_logs"`
	RunningLogs  int      `json:"running_logs"`
}

// pythonWithCrypto finds a python3 that can import cryptography (Debian's
// python3-cryptography, which scripts/ensure-python-crypto.sh installs):
// /usr/bin/python3 first, then any on PATH. Without one the test skips,
// or fails under CONNECTHUB_TEST_STRICT=1.
func pythonWithCrypto(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import cryptography.fernet").Run() == nil {
			return p
		}
	}
	msg := "no python3 with the cryptography module (install python3-cryptography: scripts/ensure-python-crypto.sh)"
	if os.Getenv("CONNECTHUB_TEST_STRICT") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// oldConnectHub is a Python ConnectHub database made by the fixture
// script, and the fake servers its example jobs talk to.
type oldConnectHub struct {
	url, keyFile string
	extensions   string // the old code base: extensions/ with BaseJob subclasses
	db           *sql.DB
	desc         fixtureDesc
	oa           *seeyontest.Server
	dd           *diditest.Server
}

func newOldConnectHub(t *testing.T, dialect string) *oldConnectHub {
	t.Helper()
	py := pythonWithCrypto(t)
	oa := seeyontest.NewServer(t, seeyontest.Options{})
	oa.SetFormExport("FORM001", []seeyontest.Field{{Name: "field0001", Display: "工号"}, {Name: "field0003", Display: "所属公司"}},
		[]map[string]string{{"工号": "E001", "所属公司": "上海甲科技有限公司"}})
	dd := diditest.NewServer(t, diditest.Options{})
	dd.AddLegalEntity("LE1", "上海甲科技有限公司", "SH01")
	dd.AddLegalEntity("LE2", "北京乙信息技术有限公司", "BJ01")
	dd.AddMember(diditest.Member{ID: "M1", EmployeeNumber: "E001", Name: "张三", LegalEntityID: "LE2"})
	creds, _ := json.Marshal(map[string]string{
		"rest_user": seeyontest.DefaultUser, "rest_password": seeyontest.DefaultPassword,
		"client_secret": diditest.DefaultClientSecret, "sign_key": diditest.DefaultSignKey, "phone": diditest.DefaultPhone,
		"didi_client_id": diditest.DefaultClientID, "didi_company_id": diditest.DefaultCompanyID,
	})
	dir := t.TempDir()
	o := &oldConnectHub{keyFile: filepath.Join(dir, "python-fernet.key"), extensions: filepath.Join(dir, "old"), oa: oa, dd: dd}
	args := []string{fixtureScript, "--key-file", o.keyFile, "--other-key-file", filepath.Join(dir, "other.key"),
		"--seeyon-url", oa.URL, "--didi-url", dd.URL, "--creds", string(creds), "--extensions", o.extensions}
	var sqlFile string
	if dialect == "sqlite" {
		path := filepath.Join(dir, "connecthub-python.db")
		args = append(args, "--sqlite", path)
		o.url = "sqlite://" + path
	} else {
		sqlFile = filepath.Join(dir, "old.sql")
		args = append(args, "--sql-out", sqlFile, "--dialect", "postgres")
		o.url = testpg.URL(t)
	}
	out, err := exec.Command(py, args...).Output()
	if err != nil {
		t.Fatalf("fixture script: %v\n%s", err, out)
	}
	if err := json.Unmarshal(out, &o.desc); err != nil {
		t.Fatalf("fixture script output %q: %v", out, err)
	}
	driver, dsn := "pgx", o.url
	if dialect == "sqlite" {
		driver, dsn = "sqlite", strings.TrimPrefix(o.url, "sqlite://")
	}
	if o.db, err = sql.Open(driver, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.db.Close() })
	if sqlFile != "" {
		b, err := os.ReadFile(sqlFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range strings.Split(string(b), ";\n") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := o.db.Exec(stmt); err != nil {
				t.Fatalf("load the old PostgreSQL database: %v", err)
			}
		}
	}
	return o
}

func TestImportPythonSQLite(t *testing.T) {
	t.Parallel()
	testImportPython(t, "sqlite", nil)
}

func TestImportPythonPostgres(t *testing.T) {
	t.Parallel()
	testpg.Require(t)
	testImportPython(t, "postgres", map[string]string{"CONNECTHUB_DB_URL": testpg.URL(t)})
}

// testImportPython takes over a Python ConnectHub the way
// docs/migrating-from-python.md tells: dry run, import, import again,
// serve and check (history, seed examples on the built-in handlers, the
// next slot), then export back for a rollback.
func testImportPython(t *testing.T, dialect string, env map[string]string) {
	old := newOldConnectHub(t, dialect)
	dataDir := t.TempDir()
	vars := map[string]string{"CONNECTHUB_DATA_DIR": dataDir, "CONNECTHUB_ADMIN_TOKEN": testToken}
	for k, v := range env {
		vars[k] = v
	}
	imp := func(extra ...string) (int, string, string) {
		return runCLI(t, vars, "", append([]string{"import", "python", "--from", old.url, "--key", old.keyFile, "--history"}, extra...)...)
	}

	// The plan: every job with its action, refusals with their reasons.
	code, out, errOut := imp("--dry-run")
	if code != 1 || !strings.Contains(errOut, "5 job(s) refused") {
		t.Fatalf("dry run: exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"create    oa.check-token  (extensions.sync_oa_to_didi.job:SyncOAToDidiTokenJob -> sync_oa_to_didi.token)",
		"create    oa.export-form  (extensions.sync_oa_to_didi.job.SyncOAToDidiExportFormJob -> sync_oa_to_didi.export_form)",
		"create    oa.legal-entity  (extensions.sync_oa_to_didi.job:SyncOAToDidiLegalEntitySyncJob -> sync_oa_to_didi.legal_entity_sync)",
		"create    custom.report  (extensions.reports.daily:DailyReportJob -> py:extensions.reports.daily:DailyReportJob)",
		"create    custom.broken  (extensions.reports.daily.BrokenJob -> py:extensions.reports.daily.BrokenJob)",
		"refused   bad.truncated", "secret_cfg token looks truncated",
		"refused   bad.other-key", "cannot be decrypted with the key(s) in " + old.keyFile,
		"refused   bad.cron", "cron_expr:", "refused   bad id", "refused   bad.public-cfg", "public_cfg must be a JSON object",
		"jobs: 10 read, 5 to create, 0 to update, 0 unchanged, 5 refused", "dry run: nothing was written",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run plan lacks %q:\n%s", want, out)
		}
	}
	if dialect == "sqlite" {
		if _, err := os.Stat(filepath.Join(dataDir, "connecthub.db")); err == nil {
			t.Error("the dry run created ConnectHub's database")
		}
	}

	imported := old.desc.Logs - 1 // one row is a refused job's
	code, out, _ = imp()
	if code != 1 || !strings.Contains(out, "jobs: 10 read, 5 created, 0 updated, 0 unchanged, 5 refused") ||
		!strings.Contains(out, "runs imported") {
		t.Fatalf("import: exit %d:\n%s", code, out)
	}
	if want := "history: " + itoa(old.desc.Logs) + " rows read, " + itoa(imported) + " runs imported"; !strings.Contains(out, want) {
		t.Errorf("import summary lacks %q:\n%s", want, out)
	}
	code, out, _ = imp()
	if code != 1 || !strings.Contains(out, "0 created, 0 updated, 5 unchanged, 5 refused") ||
		!strings.Contains(out, "0 runs imported, "+itoa(imported)+" imported before") {
		t.Fatalf("second import changed something: exit %d:\n%s", code, out)
	}

	s := startServer(t, dataDir, env)
	ctx := context.Background()

	// The next slot is the one after last_run_at.
	lastSlot, err := time.Parse(time.RFC3339, old.desc.LastSlot)
	if err != nil {
		t.Fatal(err)
	}
	job, err := s.client.GetJob(ctx, "custom.report")
	if err != nil {
		t.Fatal(err)
	}
	if job.LastRunAt == nil || !job.LastRunAt.Equal(lastSlot) || job.NextRunAt == nil || !job.NextRunAt.Equal(lastSlot.Add(time.Hour)) ||
		job.Timezone != "Asia/Shanghai" || !job.HasSecret {
		t.Errorf("custom.report: last_run_at %v next_run_at %v tz %s has_secret %v; want %v, +1h, Asia/Shanghai, true",
			job.LastRunAt, job.NextRunAt, job.Timezone, job.HasSecret, lastSlot)
	}

	// History: in run list, statuses mapped, logs masked, meta kept.
	code, out, errOut = runCLI(t, map[string]string{"CONNECTHUB_SERVER_URL": s.url, "CONNECTHUB_ADMIN_TOKEN": testToken}, "",
		"run", "list", "--job", "custom.report", "--limit", "100", "--json")
	if code != 0 {
		t.Fatalf("run list: %s", errOut)
	}
	var list struct {
		Runs []connecthub.Run `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("run list output: %v\n%s", err, out)
	}
	if len(list.Runs) != old.desc.ReportLogs {
		t.Fatalf("run list shows %d runs of custom.report, want %d", len(list.Runs), old.desc.ReportLogs)
	}
	counts := map[string]int{}
	var success *connecthub.Run
	for i, r := range list.Runs {
		counts[string(r.Status)+"/"+string(r.Trigger)]++
		meta, err := connecthub.DecodeRunMeta(r.Meta)
		if err != nil || meta.ImportedFrom == nil || meta.ImportedFrom.System != "python" || meta.ImportedFrom.CeleryTaskID == "" {
			t.Errorf("run %s meta = %s (%v), want imported_from with the Celery task", r.ID, r.Meta, err)
		}
		if r.Error == "imported while running" {
			counts["running"]++
		}
		if r.Status == connecthub.StatusSuccess && success == nil {
			success = &list.Runs[i]
		}
	}
	if counts["running"] != old.desc.RunningLogs || counts["FAILURE/retry"] != 1 || counts["SUCCESS/cron"] != 12 {
		t.Errorf("statuses/triggers = %v; want 12 SUCCESS/cron, 1 FAILURE/retry, %d imported while running", counts, old.desc.RunningLogs)
	}
	if success == nil {
		t.Fatal("no SUCCESS run imported")
	}
	_, logText := s.do("GET", "/api/v1/runs/"+success.ID+"/log", "")
	if strings.Contains(logText, old.desc.ReportSecret) || !strings.Contains(logText, "******") {
		t.Errorf("imported run log not masked: %q", logText)
	}

	// The admin UI's runs page lists the history.
	page := adminPage(t, s, "/admin/runs?job_id=custom.report")
	if !strings.Contains(page, success.ID) || !strings.Contains(page, "custom.report") {
		t.Errorf("the admin runs page does not list the imported runs")
	}

	// The seed examples run on the built-in handlers against the fakes.
	for _, id := range []string{"oa.check-token", "oa.export-form", "oa.legal-entity"} {
		r := s.waitRun(s.runNow(id).ID, "finished", func(r *connecthub.Run) bool { return r.Status.Terminal() })
		if r.Status != connecthub.StatusSuccess {
			t.Errorf("%s ended %s: %s %s", id, r.Status, r.Message, r.Error)
		}
	}
	if m, ok := old.dd.Member("M1"); !ok || m.LegalEntityID != "LE1" {
		t.Errorf("legal_entity_sync did not move member M1 to LE1: %+v", m)
	}

	// Rollback: the old database gets ConnectHub's enabled and last_run_at.
	if _, err := s.client.SetJobEnabled(ctx, "custom.report", false); err != nil {
		t.Fatal(err)
	}
	if s.stop() != 0 {
		t.Fatal("serve did not stop cleanly")
	}
	if _, err := old.db.Exec(`UPDATE jobs SET last_run_at = NULL`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, vars, "", "export", "python", "--to", old.url)
	if code != 0 || !strings.Contains(out, "wrote enabled and last_run_at of 5 of 5 jobs") {
		t.Fatalf("export: exit %d: %s%s", code, out, errOut)
	}
	var enabled any
	var last sql.NullString
	if err := old.db.QueryRow(`SELECT enabled, CAST(last_run_at AS text) FROM jobs WHERE id = 'custom.report'`).Scan(&enabled, &last); err != nil {
		t.Fatal(err)
	}
	wantLast := lastSlot.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
	if b, _ := json.Marshal(enabled); (string(b) != "false" && string(b) != "0") || !strings.HasPrefix(last.String, wantLast) {
		t.Errorf("after export: enabled %v last_run_at %q; want false and %s (Asia/Shanghai, naive)", enabled, last.String, wantLast)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

var loginNonce = regexp.MustCompile(`name="login_nonce" value="([^"]+)"`)

// adminPage logs in to the admin UI as a browser would and returns a page.
func adminPage(t *testing.T, s *server, path string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(p string) string {
		resp, err := c.Get(s.url + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return b.String()
	}
	m := loginNonce.FindStringSubmatch(get("/admin/login"))
	if m == nil {
		t.Fatal("no login form")
	}
	resp, err := c.PostForm(s.url+"/admin/login", url.Values{"username": {"admin"}, "password": {testToken}, "login_nonce": {m[1]}, "next": {path}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	return b.String()
}
