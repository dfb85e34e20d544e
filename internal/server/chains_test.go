package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/extensions/syncoatodidi"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/integrations/didi/diditest"
	"github.com/connecthub/connecthub/integrations/seeyon/seeyontest"
)

// TestChainsSyncOAToDidi chains the three sync_oa_to_didi example jobs
// (token → export_form → legal_entity_sync) against the fake Seeyon OA
// and the fake Didi, with an alert job on the token's failure: one cron slot
// of the first job runs the three in order, each started by its parent's end;
// a failed token run starts only the alert job, whose Go handler sees the
// failed parent as task.Upstream. Bad chains are refused through the API.
func TestChainsSyncOAToDidi(t *testing.T) {
	t.Parallel()
	oa := seeyontest.NewServer(t, seeyontest.Options{})
	oa.SetFormExport("HR_LEGAL", []seeyontest.Field{
		{Name: "field0001", Display: "工号"}, {Name: "field0002", Display: "姓名"}, {Name: "field0003", Display: "所属公司"},
	}, []map[string]string{{"工号": "E001", "姓名": "张三", "所属公司": "上海甲科技有限公司"}})
	dd := diditest.NewServer(t, diditest.Options{})
	dd.AddLegalEntity("LE1", "上海甲科技有限公司", "SH01")
	dd.AddLegalEntity("LE2", "北京乙信息技术有限公司", "BJ01")
	dd.AddMember(diditest.Member{ID: "M1", EmployeeNumber: "E001", Name: "张三", LegalEntityID: "LE2"})

	upstreams := make(chan *handler.Upstream, 4)
	alert := handler.Spec{Name: "test.alert", Description: "Records the upstream run it was started by.",
		Func: func(_ context.Context, task *handler.Task) (*handler.Result, error) {
			upstreams <- task.Upstream
			return &handler.Result{Message: "alerted"}, nil
		}}
	n := startNode(t, testConfig(t, t.TempDir()), append(syncoatodidi.Specs(syncoatodidi.Options{}), alert)...)
	c := clientFrom(t, "127.0.0.1")
	admin := []string{"Authorization", "Bearer " + nodeToken, "Content-Type", "application/json"}
	call := func(method, path string, body any, want int) string {
		t.Helper()
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		if body == nil {
			raw = nil
		}
		resp, b := n.send(c, n.request(method, path, string(raw), admin...))
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return b
	}
	oaCfg := map[string]any{"seeyon_base_url": oa.URL}
	oaSecrets := map[string]any{"rest_user": seeyontest.DefaultUser, "rest_password": seeyontest.DefaultPassword}
	call(http.MethodPost, "/api/v1/jobs", map[string]any{"id": "oa.alert", "handler": "test.alert"}, 201)
	call(http.MethodPost, "/api/v1/jobs", map[string]any{"id": "oa.sync", "handler": syncoatodidi.LegalEntitySyncName,
		"public_cfg": map[string]any{"seeyon_base_url": oa.URL, "template_code": "HR_LEGAL", "didi_base_url": dd.URL,
			"didi_client_id": diditest.DefaultClientID, "didi_company_id": diditest.DefaultCompanyID, "edit_interval": "0s"},
		"secret_cfg": map[string]any{"rest_user": seeyontest.DefaultUser, "rest_password": seeyontest.DefaultPassword,
			"client_secret": diditest.DefaultClientSecret, "sign_key": diditest.DefaultSignKey, "phone": diditest.DefaultPhone}}, 201)
	call(http.MethodPost, "/api/v1/jobs", map[string]any{"id": "oa.export", "handler": syncoatodidi.ExportFormName,
		"public_cfg": map[string]any{"seeyon_base_url": oa.URL, "template_code": "HR_LEGAL"}, "secret_cfg": oaSecrets,
		"on_success": []string{"oa.sync"}}, 201)
	call(http.MethodPost, "/api/v1/jobs", map[string]any{"id": "oa.token", "handler": syncoatodidi.TokenName,
		"public_cfg": oaCfg, "secret_cfg": oaSecrets, "cron_expr": "0 2 * * *",
		"on_success": "oa.export", "on_failure": []string{"oa.alert"}}, 201)

	// Bad chains: a cycle, an unknown job, deleting a chained job.
	for _, tc := range []struct {
		body  map[string]any
		field string
		text  string
	}{
		{map[string]any{"on_success": []string{"oa.token"}}, "on_success", "oa.sync → oa.token → oa.export → oa.sync"},
		{map[string]any{"on_failure": []string{"oa.nope"}}, "on_failure", "oa.nope"},
		{map[string]any{"on_failure": []string{"oa.sync"}}, "on_failure", "oa.sync → oa.sync"},
	} {
		b := call(http.MethodPatch, "/api/v1/jobs/oa.sync", tc.body, 400)
		if !strings.Contains(b, `"field":"`+tc.field+`"`) || !strings.Contains(b, tc.text) {
			t.Errorf("PATCH %v: %s; want field %s and %q", tc.body, b, tc.field, tc.text)
		}
	}
	if b := call(http.MethodDelete, "/api/v1/jobs/oa.export", nil, 409); !strings.Contains(b, "oa.token") {
		t.Errorf("DELETE of a chained job: %s", b)
	}
	var jc connecthub.JobChain
	if err := json.Unmarshal([]byte(call(http.MethodGet, "/api/v1/jobs/oa.export/chain", nil, 200)), &jc); err != nil ||
		strings.Join(jc.Upstream, ",") != "oa.token" || strings.Join(jc.OnSuccess, ",") != "oa.sync" {
		t.Errorf("chain of oa.export: %+v %v", jc, err)
	}

	// One cron slot of the first job runs the three in order. The slot is
	// a one-off a few seconds ahead (seconds field, today's date), so
	// exactly one fires while the test runs; a save that lands after it
	// (a starved machine) plans next year's and is made again.
	for attempt := 0; ; attempt++ {
		slot := time.Now().UTC().Add(4 * time.Second).Truncate(time.Second)
		expr := fmt.Sprintf("%d %d %d %d %d *", slot.Second(), slot.Minute(), slot.Hour(), slot.Day(), int(slot.Month()))
		var saved connecthub.Job
		if err := json.Unmarshal([]byte(call(http.MethodPatch, "/api/v1/jobs/oa.token",
			map[string]any{"timezone": "UTC", "cron_expr": expr}, 200)), &saved); err != nil {
			t.Fatal(err)
		}
		if saved.NextRunAt != nil && saved.NextRunAt.Equal(slot) {
			break
		}
		if attempt == 3 {
			t.Fatalf("oa.token's next run is %v, want the slot %v", saved.NextRunAt, slot)
		}
	}
	token := n.waitRun(c, n.cronRun(c, "oa.token"), connecthub.StatusSuccess)
	if token.Trigger != connecthub.TriggerCron {
		t.Errorf("the first run's trigger is %s, want cron", token.Trigger)
	}
	export := n.waitRun(c, n.chainChild(c, token.ID, "oa.export"), connecthub.StatusSuccess)
	sync := n.waitRun(c, n.chainChild(c, export.ID, "oa.sync"), connecthub.StatusSuccess)
	for _, pair := range [][2]connecthub.Run{{token, export}, {export, sync}} {
		parent, child := pair[0], pair[1]
		meta, _ := connecthub.DecodeRunMeta(child.Meta)
		if child.Trigger != connecthub.TriggerChain || meta.ParentRun != parent.ID {
			t.Errorf("run of %s: trigger %s parent %q, want chain from %s", child.JobID, child.Trigger, meta.ParentRun, parent.ID)
		}
		if child.StartedAt.Before(*parent.FinishedAt) {
			t.Errorf("%s started %v, before %s finished %v", child.JobID, child.StartedAt, parent.JobID, parent.FinishedAt)
		}
	}
	if m, _ := dd.Member("M1"); m.LegalEntityID != "LE1" {
		t.Errorf("member M1 is on %s after the chain, want LE1", m.LegalEntityID)
	}
	var rc connecthub.RunChain
	if err := json.Unmarshal([]byte(call(http.MethodGet, "/api/v1/runs/"+export.ID+"/chain", nil, 200)), &rc); err != nil ||
		rc.Parent == nil || rc.Parent.ID != token.ID || len(rc.Children) != 1 || rc.Children[0].ID != sync.ID {
		t.Errorf("chain of the export run: %+v %v", rc, err)
	}
	select {
	case up := <-upstreams:
		t.Fatalf("the alert job ran after a success: %+v", up)
	default:
	}

	// A failed token run starts the alert job, and only it.
	call(http.MethodPatch, "/api/v1/jobs/oa.token", map[string]any{"secret_cfg": map[string]any{
		"rest_user": seeyontest.DefaultUser, "rest_password": "wrong"}}, 200)
	var first connecthub.Run
	if err := json.Unmarshal([]byte(call(http.MethodPost, "/api/v1/jobs/oa.token/run", nil, 202)), &first); err != nil {
		t.Fatal(err)
	}
	failed := n.waitRun(c, first.ID, connecthub.StatusFailure)
	n.waitRun(c, n.chainChild(c, failed.ID, "oa.alert"), connecthub.StatusSuccess)
	up := <-upstreams
	if up == nil || up.RunID != failed.ID || up.JobID != "oa.token" || up.Status != connecthub.StatusFailure || up.Error == "" {
		t.Errorf("the alert handler saw upstream %+v, want the failed token run %s", up, failed.ID)
	}
	if err := json.Unmarshal([]byte(call(http.MethodGet, "/api/v1/runs/"+failed.ID+"/chain", nil, 200)), &rc); err != nil ||
		len(rc.Children) != 1 || rc.Children[0].JobID != "oa.alert" {
		t.Errorf("a failed token run started %+v (%v), want only oa.alert", rc.Children, err)
	}
}

// chainChild waits until the end of run parent has started a run of job,
// and returns its id.
// cronRun waits for the first run of job that a cron slot fired and
// returns its id.
func (n *node) cronRun(c *http.Client, job string) string {
	n.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for {
		_, body := n.get(c, "/api/v1/runs?trigger=cron&job_id="+job, "Authorization", "Bearer "+nodeToken)
		var page struct{ Runs []connecthub.Run }
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			n.t.Fatalf("runs of %s: %v: %s", job, err, body)
		}
		if len(page.Runs) > 0 {
			return page.Runs[len(page.Runs)-1].ID
		}
		select {
		case <-tick.C:
		case <-deadline:
			n.t.Fatalf("no cron run of %s: %s", job, body)
		}
	}
}

func (n *node) chainChild(c *http.Client, parent, job string) string {
	n.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for {
		_, body := n.get(c, "/api/v1/runs/"+parent+"/chain", "Authorization", "Bearer "+nodeToken)
		var rc connecthub.RunChain
		if err := json.Unmarshal([]byte(body), &rc); err != nil {
			n.t.Fatalf("chain of %s: %v: %s", parent, err, body)
		}
		for _, k := range rc.Children {
			if k.JobID == job {
				return k.ID
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			n.t.Fatalf("run %s started no run of %s: %s", parent, job, body)
		}
	}
}
