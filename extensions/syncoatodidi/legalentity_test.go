package syncoatodidi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/integrations/didi"
	"github.com/connecthub/connecthub/integrations/didi/diditest"
	"github.com/connecthub/connecthub/integrations/seeyon/seeyontest"
)

const (
	jia   = "上海甲科技有限公司"
	yi    = "北京乙信息技术有限公司"
	ding  = "丁公司"    // no Didi legal entity has this name
	twins = "重名有限公司" // two Didi legal entities have this name
)

// formFields is the definition of the test form.
var formFields = []seeyontest.Field{
	{Name: "field0001", Display: "工号"},
	{Name: "field0002", Display: "姓名"},
	{Name: "field0003", Display: "所属公司"},
}

// syncEnv is a fake OA and a fake Didi set up for a sync, and the job's
// public_cfg pointing at them.
type syncEnv struct {
	oa  *seeyontest.Server
	dd  *diditest.Server
	cfg obj
}

// newSyncEnv starts both fakes. The OA's form HR_LEGAL holds rows (keyed by
// label); Didi knows the legal entities above and members M1 (E001, on
// LE2), M2 (E002, on LE1), M3 (E003, on LE1), M4 (E004, on LE2).
func newSyncEnv(t *testing.T, rows []map[string]string, ddOpts diditest.Options) *syncEnv {
	t.Helper()
	oa := seeyontest.NewServer(t, seeyontest.Options{})
	oa.SetFormExport("HR_LEGAL", formFields, rows)
	dd := diditest.NewServer(t, ddOpts)
	dd.AddLegalEntity("LE1", jia, "SH01")
	dd.AddLegalEntity("LE2", yi, "BJ01")
	dd.AddLegalEntity("LE9", jia+"北京分公司", "") // matched loosely by the fake, never exactly
	dd.AddLegalEntity("LE5", twins, "")
	dd.AddLegalEntity("LE6", twins, "")
	dd.AddMember(diditest.Member{ID: "M1", EmployeeNumber: "E001", Name: "张三", LegalEntityID: "LE2"})
	dd.AddMember(diditest.Member{ID: "M2", EmployeeNumber: "E002", Name: "李四", LegalEntityID: "LE1"})
	dd.AddMember(diditest.Member{ID: "M3", EmployeeNumber: "E003", Name: "王五", LegalEntityID: "LE1"})
	dd.AddMember(diditest.Member{ID: "M4", EmployeeNumber: "E004", Name: "赵六", LegalEntityID: "LE2"})
	return &syncEnv{oa: oa, dd: dd, cfg: obj{
		"seeyon_base_url": oa.URL,
		"template_code":   "HR_LEGAL",
		"didi_base_url":   dd.URL,
		"didi_client_id":  diditest.DefaultClientID,
		"didi_company_id": diditest.DefaultCompanyID,
		"edit_interval":   "0s",
	}}
}

// run runs the sync with the environment's config changed by extra.
func (e *syncEnv) run(t *testing.T, ctx context.Context, extra obj, secrets map[string]string) (*handler.Result, *recorder, error) {
	t.Helper()
	cfg := obj{}
	for k, v := range e.cfg {
		cfg[k] = v
	}
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
			continue
		}
		cfg[k] = v
	}
	task, rec := newTask(t, cfg, secrets)
	res, err := spec(t, LegalEntitySyncName).Func(ctx, task)
	return res, rec, err
}

func row(emp, company string) map[string]string {
	return map[string]string{"工号": emp, "姓名": "某人", "所属公司": company}
}

func TestLegalEntitySyncEndToEnd(t *testing.T) {
	t.Parallel()
	env := newSyncEnv(t, []map[string]string{
		row("E001", jia),   // M1 on LE2: updated to LE1
		row("E002", jia),   // M2 on LE1: skipped; 甲 comes from the cache
		row("E003", yi),    // M3 on LE1: updated to LE2
		row("E404", jia),   // no such member: failed
		row("E005", ding),  // no legal entity named 丁公司: failed
		row("E006", ding),  // failed again, without a second lookup
		row("", yi),        // no 工号: ignored
		row("E007", ""),    // no company: failed
		row("E008", twins), // two legal entities of that name: failed
	}, diditest.Options{})

	res, rec, err := env.run(t, t.Context(), nil, allSecrets())
	if err != nil {
		t.Fatal(err)
	}
	if want := "members: 8, updated: 2, skipped: 1, failed: 5"; res.Message != want {
		t.Errorf("message = %q, want %q", res.Message, want)
	}
	report := res.Data.(SyncReport)
	var failed []string
	for _, e := range report.Errors {
		failed = append(failed, e.EmployeeNumber)
	}
	if report.Total != 8 || report.Success != 2 || report.Skipped != 1 || report.Failed != 5 ||
		report.IgnoredRows != 1 || report.LegalEntityLookups != 4 || report.DryRun || report.ErrorsTruncated ||
		!reflect.DeepEqual(failed, []string{"E404", "E005", "E006", "E007", "E008"}) {
		t.Errorf("report = %+v", report)
	}
	wantErrs := map[string]string{
		"E404": "didi: GET /river/Member/detail: errno 50202: 员工不存在",
		"E005": `no Didi legal entity is named "丁公司"`,
		"E007": "the form has no company for this member",
		"E008": `2 Didi legal entities are named "重名有限公司" (LE5, LE6); fix the names in Didi`,
	}
	for _, e := range report.Errors {
		if want, ok := wantErrs[e.EmployeeNumber]; ok && e.Error != want {
			t.Errorf("%s: error %q, want %q", e.EmployeeNumber, e.Error, want)
		}
	}

	// One LegalEntity/get per distinct company, none per member.
	if got, want := env.dd.LegalEntityQueries(), []string{jia, yi, ding, twins}; !reflect.DeepEqual(got, want) {
		t.Errorf("legal entity queries = %q, want %q", got, want)
	}
	if got := env.dd.Requests(diditest.MemberDetailPath); got != 4 {
		t.Errorf("member lookups = %d, want 4 (E001, E002, E003, E404)", got)
	}
	var edited []string
	for _, e := range env.dd.Edits() {
		edited = append(edited, fmt.Sprint(e.MemberID, "→", e.Fields["legal_entity_id"]))
	}
	if want := []string{"M1→LE1", "M3→LE2"}; !reflect.DeepEqual(edited, want) {
		t.Errorf("edits = %q, want %q", edited, want)
	}
	for id, want := range map[string]string{"M1": "LE1", "M2": "LE1", "M3": "LE2", "M4": "LE2"} {
		if m, _ := env.dd.Member(id); m.LegalEntityID != want {
			t.Errorf("%s is on %s, want %s", id, m.LegalEntityID, want)
		}
	}
	if env.dd.Authorizations() != 1 || env.oa.Logins() != 1 {
		t.Errorf("authorizations = %d, OA logins = %d; want 1 and 1", env.dd.Authorizations(), env.oa.Logins())
	}

	// Failures and the ignored record are warnings; nothing secret is logged.
	if got := len(rec.withLevel(slog.LevelWarn)); got != 6 {
		t.Errorf("%d warnings, want 6 (5 failures, 1 ignored record)", got)
	}
	logText := rec.text()
	for _, secret := range append(env.oa.Tokens(), diditest.DefaultClientSecret, diditest.DefaultSignKey,
		diditest.DefaultPhone, seeyontest.DefaultPassword) {
		if strings.Contains(logText, secret) {
			t.Errorf("the run log contains %q", secret)
		}
	}
}

func TestLegalEntitySyncDryRun(t *testing.T) {
	t.Parallel()
	env := newSyncEnv(t, []map[string]string{row("E001", jia), row("E002", jia), row("E003", yi)}, diditest.Options{})
	res, _, err := env.run(t, t.Context(), obj{"dry_run": true}, allSecrets())
	if err != nil {
		t.Fatal(err)
	}
	if want := "dry run: members: 3, would update: 2, skipped: 1, failed: 0"; res.Message != want {
		t.Errorf("message = %q, want %q", res.Message, want)
	}
	if !res.Data.(SyncReport).DryRun || len(env.dd.Edits()) != 0 {
		t.Errorf("dry run edited %d members", len(env.dd.Edits()))
	}
}

// TestLegalEntitySyncPacesEdits runs with the default edit_interval and
// checks the gap between consecutive edits.
func TestLegalEntitySyncPacesEdits(t *testing.T) {
	t.Parallel()
	env := newSyncEnv(t, []map[string]string{row("E001", jia), row("E002", jia), row("E003", yi), row("E004", jia)}, diditest.Options{})
	res, _, err := env.run(t, t.Context(), obj{"edit_interval": nil}, allSecrets())
	if err != nil {
		t.Fatal(err)
	}
	if res.Data.(SyncReport).Success != 3 {
		t.Fatalf("report = %+v", res.Data)
	}
	edits := env.dd.Edits()
	if len(edits) != 3 {
		t.Fatalf("%d edits, want 3", len(edits))
	}
	for i := 1; i < len(edits); i++ {
		if gap := edits[i].At.Sub(edits[i-1].At); gap < 150*time.Millisecond {
			t.Errorf("edit %d came %v after the previous one, want at least 150ms", i+1, gap)
		}
	}
}

// TestLegalEntitySyncCancelledDuringPause cancels the run while it waits
// between two edits: it must stop at once, with the context's error.
func TestLegalEntitySyncCancelledDuringPause(t *testing.T) {
	t.Parallel()
	env := newSyncEnv(t, []map[string]string{row("E001", jia), row("E003", yi), row("E004", jia)}, diditest.Options{})
	paused := make(chan struct{}, 1)
	h := &handlers{http: &http.Client{}, onPause: func() { paused <- struct{}{} }}
	cfg := obj{}
	for k, v := range env.cfg {
		cfg[k] = v
	}
	cfg["edit_interval"] = "1m"
	task, _ := newTask(t, cfg, allSecrets())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := h.legalEntitySync(ctx, task)
		done <- err
	}()
	select {
	case <-paused:
	case err := <-done:
		t.Fatalf("the run ended without pausing: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if want := "stopped after 1 of 3 members (members: 3, updated: 1, skipped: 0, failed: 0)"; !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to contain %q", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not stop when cancelled during the pause")
	}
	if got := len(env.dd.Edits()); got != 1 {
		t.Errorf("%d edits, want 1", got)
	}
}

// TestLegalEntitySyncStopsOnAuthFailure revokes Didi's trust after the first
// edit: the run stops instead of failing every member one by one.
func TestLegalEntitySyncStopsOnAuthFailure(t *testing.T) {
	t.Parallel()
	var env *syncEnv
	env = newSyncEnv(t, []map[string]string{row("E001", jia), row("E003", yi), row("E004", jia)},
		diditest.Options{OnEdit: func(string) { env.dd.RejectAllTokens(true) }})
	_, _, err := env.run(t, t.Context(), nil, allSecrets())
	var authErr *didi.AuthError
	if !errors.As(err, &authErr) {
		t.Fatalf("err = %v, want a *didi.AuthError", err)
	}
	if want := "stopped after 1 of 3 members"; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to contain %q", err, want)
	}
	// E003's company is looked up first: that call and its one retry after
	// a fresh authorization are refused, and nothing more is tried.
	if got := env.dd.Requests(diditest.LegalEntityGetPath); got != 3 {
		t.Errorf("legal entity lookups = %d, want 3 (甲, then 乙 and its one retry)", got)
	}
	if got := env.dd.Authorizations(); got != 2 {
		t.Errorf("authorizations = %d, want 2", got)
	}
	if got := env.dd.Requests(diditest.MemberDetailPath); got != 1 {
		t.Errorf("member lookups = %d, want 1", got)
	}
}

func TestLegalEntitySyncFailures(t *testing.T) {
	t.Parallel()
	wrongKey := allSecrets()
	wrongKey[SecretSignKey] = "not-the-sign-key"
	noKey := allSecrets()
	delete(noKey, SecretSignKey)
	wrongOA := allSecrets()
	wrongOA[SecretRESTPassword] = "not-the-password"
	tests := []struct {
		name      string
		rows      []map[string]string
		extra     obj
		secrets   map[string]string
		wantErr   string
		permanent bool
	}{
		{
			name:    "wrong Didi sign key",
			rows:    []map[string]string{row("E001", jia)},
			secrets: wrongKey,
			wantErr: "didi: POST /river/Auth/authorize: errno 40001: sign error",
		},
		{
			name:      "wrong OA password",
			rows:      []map[string]string{row("E001", jia)},
			secrets:   wrongOA,
			wantErr:   "seeyon: POST /seeyon/rest/token: HTTP 401",
			permanent: true,
		},
		{
			name:    "every member fails",
			rows:    []map[string]string{row("E404", jia), row("E405", ding)},
			secrets: allSecrets(),
			wantErr: "no member could be synced (members: 2, updated: 0, skipped: 0, failed: 2); first error: didi: GET /river/Member/detail: errno 50202",
		},
		{
			name:    "no members",
			rows:    []map[string]string{row("", jia)},
			secrets: allSecrets(),
			wantErr: "form HR_LEGAL lists no members (no record has a 工号)",
		},
		{
			name:      "field label not in the form",
			rows:      []map[string]string{row("E001", jia)},
			extra:     obj{"company_field": "公司"},
			secrets:   allSecrets(),
			wantErr:   `form HR_LEGAL has no field labelled "公司" (public_cfg.company_field); its fields are: 工号, 姓名, 所属公司`,
			permanent: true,
		},
		{
			name:    "unknown form",
			extra:   obj{"template_code": "NOPE"},
			secrets: allSecrets(),
			wantErr: "reading the export of form NOPE: seeyon: the OA answered code 1002",
		},
		{name: "missing Didi secret", secrets: noKey, wantErr: "secret_cfg.sign_key is required", permanent: true},
		{name: "missing company id", extra: obj{"didi_company_id": nil}, secrets: allSecrets(),
			wantErr: "public_cfg.didi_company_id is required", permanent: true},
		{name: "bad interval", extra: obj{"edit_interval": "2m"}, secrets: allSecrets(),
			wantErr: `public_cfg.edit_interval "2m" must be between 0s and 1m0s`, permanent: true},
		{name: "bad Didi URL", extra: obj{"didi_base_url": "didi"}, secrets: allSecrets(),
			wantErr: `public_cfg.didi_base_url "didi" must be an http:// or https:// URL`, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newSyncEnv(t, tt.rows, diditest.Options{})
			_, rec, err := env.run(t, t.Context(), tt.extra, tt.secrets)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if handler.IsPermanent(err) != tt.permanent {
				t.Errorf("permanent = %v, want %v", handler.IsPermanent(err), tt.permanent)
			}
			if len(env.dd.Edits()) != 0 {
				t.Error("a failed run edited members")
			}
			for _, secret := range []string{"not-the-sign-key", "not-the-password", diditest.DefaultSignKey, diditest.DefaultClientSecret} {
				if strings.Contains(err.Error()+rec.text(), secret) {
					t.Errorf("%q leaked", secret)
				}
			}
		})
	}
}

func TestLegalEntitySyncCustomLabelsAndDuplicates(t *testing.T) {
	t.Parallel()
	oa := seeyontest.NewServer(t, seeyontest.Options{})
	oa.SetFormExport("HR2", []seeyontest.Field{{Name: "field0009", Display: "员工编号"}, {Name: "field0010", Display: "公司名称"}},
		[]map[string]string{
			{"员工编号": "E001", "公司名称": yi},
			{"员工编号": " E001 ", "公司名称": jia}, // the later record wins
		})
	env := newSyncEnv(t, nil, diditest.Options{})
	res, rec, err := env.run(t, t.Context(), obj{
		"seeyon_base_url":       oa.URL,
		"template_code":         "HR2",
		"employee_number_field": "员工编号",
		"company_field":         "公司名称",
	}, allSecrets())
	if err != nil {
		t.Fatal(err)
	}
	if want := "members: 1, updated: 1, skipped: 0, failed: 0"; res.Message != want {
		t.Errorf("message = %q, want %q", res.Message, want)
	}
	if m, _ := env.dd.Member("M1"); m.LegalEntityID != "LE1" {
		t.Errorf("M1 is on %s, want LE1 (from the later record)", m.LegalEntityID)
	}
	warns := rec.withLevel(slog.LevelWarn)
	if len(warns) != 1 || warns[0].msg != "员工编号 E001 appears in records 1 and 2; using record 2" {
		t.Errorf("warnings = %+v", warns)
	}
}

func TestLegalEntitySyncCapsReportedErrors(t *testing.T) {
	t.Parallel()
	rows := []map[string]string{row("E002", jia)} // skipped, so the run succeeds
	for i := range 55 {
		rows = append(rows, row(fmt.Sprintf("X%03d", i), jia))
	}
	env := newSyncEnv(t, rows, diditest.Options{})
	res, rec, err := env.run(t, t.Context(), nil, allSecrets())
	if err != nil {
		t.Fatal(err)
	}
	report := res.Data.(SyncReport)
	if report.Failed != 55 || len(report.Errors) != MaxReportedErrors || !report.ErrorsTruncated || report.Skipped != 1 {
		t.Errorf("report: failed %d, %d errors, truncated %v, skipped %d", report.Failed, len(report.Errors), report.ErrorsTruncated, report.Skipped)
	}
	if report.Errors[49].EmployeeNumber != "X049" {
		t.Errorf("the 50th error is %s, want X049", report.Errors[49].EmployeeNumber)
	}
	warns := rec.withLevel(slog.LevelWarn)
	if len(warns) != MaxReportedErrors+1 || warns[len(warns)-1].msg != "5 more failures are counted but not logged" {
		t.Errorf("%d warnings, last %q", len(warns), warns[len(warns)-1].msg)
	}
	if got := env.dd.LegalEntityQueries(); len(got) != 1 {
		t.Errorf("%d legal entity lookups for one company, want 1", len(got))
	}
}
