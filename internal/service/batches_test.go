package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// batchService is a service over a fresh SQLite store, for tests and
// benchmarks alike.
func batchService(tb testing.TB) (*service.Service, store.Store) {
	tb.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(tb.TempDir(), "connecthub.db"), sqlitestore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	key, err := secret.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := secret.Parse(key, "test")
	if err != nil {
		tb.Fatal(err)
	}
	reg := handler.NewRegistry()
	if err := reg.Add(handler.Spec{Name: "noop", Func: func(context.Context, *handler.Task) (*handler.Result, error) { return nil, nil }}); err != nil {
		tb.Fatal(err)
	}
	svc, err := service.New(service.Config{Store: st, Keys: keys, Registry: reg, Defaults: connecthub.JobDefaults{Timezone: "UTC"},
		Now: func() time.Time { return t0 }})
	if err != nil {
		tb.Fatal(err)
	}
	return svc, st
}

func docs(bodies ...string) []connecthub.BatchDocument {
	out := make([]connecthub.BatchDocument, len(bodies))
	for i, b := range bodies {
		out[i] = connecthub.BatchDocument{File: "jobs.yaml", Index: i, Job: json.RawMessage(b)}
	}
	return out
}

func planOf(res *connecthub.BatchApplyResult) string {
	var parts []string
	for _, p := range res.Plan {
		parts = append(parts, p.Action+" "+p.JobID)
	}
	return strings.Join(parts, ", ")
}

// TestBatchApplyIsDeclarative: a definition is the whole job: a field it
// leaves out goes back to its default, while secrets it leaves out stay;
// applying the same definitions again changes nothing.
func TestBatchApplyIsDeclarative(t *testing.T) {
	t.Parallel()
	svc, st := batchService(t)
	ctx := as(connecthub.RoleAdmin)
	if _, err := svc.JobCreate(ctx, jobInput(t, `{"id":"a","handler":"noop","priority":5,"secret_cfg":{"pw":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	files := docs(`{"id":"a","handler":"noop","description":"from git"}`, `{"id":"b","handler":"noop"}`)
	res, err := svc.BatchApply(ctx, &connecthub.BatchApplyRequest{Documents: files})
	if err != nil {
		t.Fatal(err)
	}
	if got := planOf(res); got != "update a, create b" {
		t.Errorf("plan = %s", got)
	}
	a, _ := st.JobGet(ctx, "a")
	if a.Priority != 0 || a.Description != "from git" || !a.HasSecret {
		t.Errorf("a = priority %d, %q, secret %v; want the default priority, the description, the secret kept", a.Priority, a.Description, a.HasSecret)
	}
	again, err := svc.BatchApply(ctx, &connecthub.BatchApplyRequest{Documents: files})
	if err != nil || again.Batch != nil || again.Changed() {
		t.Errorf("second apply = %s, batch %v, %v; want unchanged", planOf(again), again.Batch, err)
	}
	entries, _, _ := st.AuditList(ctx, connecthub.AuditFilter{Action: "config.apply"})
	if len(entries) != 1 || !strings.Contains(entries[0].Detail, "created b") || entries[0].Actor != "u" {
		t.Errorf("config.apply audit = %+v", entries)
	}
}

// TestBatchApplyRefusesNothingToApply: an apply without documents is a
// mistake, and with prune it would delete every job: refused, nothing
// deleted.
func TestBatchApplyRefusesNothingToApply(t *testing.T) {
	t.Parallel()
	svc, st := batchService(t)
	ctx := as(connecthub.RoleAdmin)
	if _, err := svc.JobCreate(ctx, jobInput(t, `{"id":"a","handler":"noop"}`)); err != nil {
		t.Fatal(err)
	}
	for _, req := range []*connecthub.BatchApplyRequest{nil, {}, {Prune: true}, {Prune: true, DryRun: true}} {
		if _, err := svc.BatchApply(ctx, req); !connecthub.IsKind(err, connecthub.KindInvalid) {
			t.Errorf("BatchApply(%+v) = %v, want invalid", req, err)
		}
	}
	if _, err := st.JobGet(ctx, "a"); err != nil {
		t.Errorf("a after the refused applies: %v", err)
	}
}

// TestBatchRollbackOfRollback: a rollback is a batch and can itself be
// rolled back; an import is rolled back like an apply.
func TestBatchRollbackOfRollback(t *testing.T) {
	t.Parallel()
	svc, st := batchService(t)
	ctx := as(connecthub.RoleAdmin)
	res, err := svc.BatchApply(ctx, &connecthub.BatchApplyRequest{Documents: docs(`{"id":"a","handler":"noop"}`)})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := svc.BatchRollback(ctx, res.Batch.ID)
	if err != nil || rb.Deleted != 1 || rb.RollbackOf != res.Batch.ID {
		t.Fatalf("rollback = %+v, %v", rb, err)
	}
	if _, err := st.JobGet(ctx, "a"); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Fatalf("a after the rollback: %v", err)
	}
	if _, err := svc.BatchRollback(ctx, rb.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.JobGet(ctx, "a"); err != nil {
		t.Errorf("a after rolling back the rollback: %v", err)
	}
	// The first rollback's after-state is "a absent"; a exists again, so
	// rolling that rollback back a second time is refused, naming a.
	_, err = svc.BatchRollback(ctx, rb.ID)
	if !connecthub.IsKind(err, connecthub.KindConflict) || !strings.Contains(err.Error(), "job(s) a") {
		t.Errorf("stale rollback = %v, want a conflict naming a", err)
	}

	act, err := importOne(ctx, svc, `{"id":"imp","handler":"noop"}`)
	if err != nil || act != service.ImportCreate {
		t.Fatalf("import = %s, %v", act, err)
	}
	list, _, _ := svc.BatchList(ctx, connecthub.BatchFilter{})
	if list[0].Action != connecthub.BatchImport {
		t.Fatalf("newest batch = %+v, want the import", list[0])
	}
	if _, err := svc.BatchRollback(ctx, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.JobGet(ctx, "imp"); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Errorf("the imported job survived the import's rollback")
	}
	for _, action := range []string{"config.rollback", "config.import"} {
		if entries, _, _ := st.AuditList(ctx, connecthub.AuditFilter{Action: action}); len(entries) == 0 {
			t.Errorf("no %s audit entry", action)
		}
	}
}

func importOne(ctx context.Context, svc *service.Service, body string) (service.ImportAction, error) {
	in, err := connecthub.DecodeJobInput([]byte(body))
	if err != nil {
		return "", err
	}
	act, _, err := svc.JobImport(ctx, in, nil, false)
	return act, err
}

// BenchmarkApply1000 applies 1,000 new jobs in one batch on SQLite: the
// figure docs/config-as-code.md quotes (go test -bench Apply1000
// -run '^$' ./internal/service/).
func BenchmarkApply1000(b *testing.B) {
	bodies := make([]string, 1000)
	for i := range bodies {
		bodies[i] = fmt.Sprintf(`{"id":"bench.job-%04d","handler":"noop","cron_expr":"%d * * * *","public_cfg":{"n":%d},"secret_cfg":{"pw":"p%d"}}`, i, i%60, i, i)
	}
	for b.Loop() {
		b.StopTimer()
		svc, _ := batchService(b)
		b.StartTimer()
		res, err := svc.BatchApply(as(connecthub.RoleAdmin), &connecthub.BatchApplyRequest{Documents: docs(bodies...)})
		if err != nil || res.Batch == nil || res.Batch.Created != 1000 {
			b.Fatalf("apply: %v", err)
		}
	}
}
