package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// exerciseBatches checks BatchWrite's all-or-nothing writes, the states
// it records, the conflicts that refuse a batch, and the batch list.
func exerciseBatches(t *testing.T, newStore NewStoreFunc) {
	// applied writes a batch that creates "new", updates "upd" (definition
	// and secret) and deletes "del" (prune), over a store holding upd, del
	// and "keep".
	type fixture struct {
		s                 store.Store
		b                 *connecthub.Batch
		upd, del, created *connecthub.Job
	}
	applied := func(t *testing.T) fixture {
		s := newStore(t)
		upd := newJob(t, s, "upd")
		del := newJob(t, s, "del")
		newJob(t, s, "keep")
		after := *upd
		after.Description, after.SecretCfg, after.SecretKeys = "changed", "gAAAAAB-new-secret", []string{"token"}
		after.PublicCfg = json.RawMessage(`{"k":"w"}`)
		after.UpdatedAt = t0
		created := testJob("new")
		b := &connecthub.Batch{Actor: "alice", CreatedAt: t0, Action: connecthub.BatchApply,
			Source: connecthub.BatchSource{Files: []string{"jobs/a.yaml"}, Hash: "sha256:abc"},
			Items: []connecthub.BatchItem{
				{JobID: "new", After: created},
				{JobID: "upd", Before: upd, After: &after},
				{JobID: "del", Before: del},
			}}
		if err := s.BatchWrite(store.WithAudit(t.Context(), testAudit("config.apply", "batch", t0)), b); err != nil {
			t.Fatalf("BatchWrite: %v", err)
		}
		return fixture{s: s, b: b, upd: upd, del: del, created: created}
	}

	t.Run("AppliesAndRecords", func(t *testing.T) {
		t.Parallel()
		f := applied(t)
		if f.b.ID <= 0 || f.b.Created != 1 || f.b.Updated != 1 || f.b.Deleted != 1 {
			t.Fatalf("batch = id %d, %d/%d/%d; want an id and 1 created, 1 updated, 1 deleted", f.b.ID, f.b.Created, f.b.Updated, f.b.Deleted)
		}
		if got := getJob(t, f.s, "upd"); got.Description != "changed" || got.SecretCfg != "gAAAAAB-new-secret" || string(got.PublicCfg) != `{"k":"w"}` {
			t.Errorf("upd after the batch = %q, %q, %s", got.Description, got.SecretCfg, got.PublicCfg)
		}
		if got := getJob(t, f.s, "new"); got.SecretCfg != f.created.SecretCfg {
			t.Errorf("new's secret = %q, want %q", got.SecretCfg, f.created.SecretCfg)
		}
		_, err := f.s.JobGet(t.Context(), "del")
		requireKind(t, err, connecthub.KindNotFound)
		getJob(t, f.s, "keep")

		got, err := f.s.BatchGet(t.Context(), f.b.ID)
		if err != nil {
			t.Fatalf("BatchGet: %v", err)
		}
		if got.Actor != "alice" || got.Action != connecthub.BatchApply || !got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) ||
			strings.Join(got.Source.Files, ",") != "jobs/a.yaml" || got.Source.Hash != "sha256:abc" || len(got.Items) != 3 {
			t.Fatalf("BatchGet = %+v", got)
		}
		want := []struct {
			id, op               string
			beforeSec, afterSec  string
			beforeNil, afterNil  bool
			beforeDesc, afterDsc string
		}{
			{"new", connecthub.BatchCreate, "", f.created.SecretCfg, true, false, "", "job new"},
			{"upd", connecthub.BatchUpdate, f.upd.SecretCfg, "gAAAAAB-new-secret", false, false, "job upd", "changed"},
			{"del", connecthub.BatchDelete, f.del.SecretCfg, "", false, true, "job del", ""},
		}
		for i, w := range want {
			it := got.Items[i]
			if it.JobID != w.id || it.Op != w.op || (it.Before == nil) != w.beforeNil || (it.After == nil) != w.afterNil {
				t.Errorf("item %d = %s %s before %v after %v, want %s %s", i, it.JobID, it.Op, it.Before != nil, it.After != nil, w.id, w.op)
				continue
			}
			if it.Before != nil && (it.Before.SecretCfg != w.beforeSec || it.Before.Description != w.beforeDesc) {
				t.Errorf("item %s before = %q %q, want %q %q", w.id, it.Before.SecretCfg, it.Before.Description, w.beforeSec, w.beforeDesc)
			}
			if it.After != nil && (it.After.SecretCfg != w.afterSec || it.After.Description != w.afterDsc) {
				t.Errorf("item %s after = %q %q, want %q %q", w.id, it.After.SecretCfg, it.After.Description, w.afterSec, w.afterDsc)
			}
		}
		// The recorded states are the jobs as stored: a rollback compares
		// the job with them.
		if !store.SameJobState(got.Items[1].After, getJob(t, f.s, "upd")) || !store.SameJobState(got.Items[1].Before, f.upd) {
			t.Errorf("recorded states of upd do not match the job before and after")
		}
		entries, _, err := f.s.AuditList(t.Context(), connecthub.AuditFilter{Action: "config.apply"})
		if err != nil || len(entries) != 1 {
			t.Errorf("audit config.apply entries = %d, %v; want 1", len(entries), err)
		}
	})

	t.Run("RollbackRestores", func(t *testing.T) {
		t.Parallel()
		f := applied(t)
		rec, err := f.s.BatchGet(t.Context(), f.b.ID)
		if err != nil {
			t.Fatal(err)
		}
		rb := &connecthub.Batch{CreatedAt: t0.Add(time.Minute), Action: connecthub.BatchRollback, RollbackOf: rec.ID}
		for _, it := range rec.Items {
			rb.Items = append(rb.Items, connecthub.BatchItem{JobID: it.JobID, Before: it.After, After: it.Before})
		}
		if err := f.s.BatchWrite(t.Context(), rb); err != nil {
			t.Fatalf("rollback BatchWrite: %v", err)
		}
		if _, err := f.s.JobGet(t.Context(), "new"); !connecthub.IsKind(err, connecthub.KindNotFound) {
			t.Errorf("the created job survived the rollback: %v", err)
		}
		for _, j := range []*connecthub.Job{f.upd, f.del} {
			if got := getJob(t, f.s, j.ID); !store.SameJobState(got, j) || got.SecretCfg != j.SecretCfg {
				t.Errorf("job %s after rollback = %+v, want its definition and secret back", j.ID, got)
			}
		}
		if got, err := f.s.BatchGet(t.Context(), rb.ID); err != nil || got.RollbackOf != rec.ID || got.Action != connecthub.BatchRollback {
			t.Errorf("rollback batch = %+v, %v", got, err)
		}
		// Every job a batch touches gets a revision in the batch's
		// transaction, naming the batch: an apply as apply, a rollback
		// as restore, a delete as delete.
		upd := checkRevisions(t, f.s, "upd", "3 restore", "2 apply", "1 create")
		checkRevisions(t, f.s, "del", "3 restore", "2 delete", "1 create")
		created := checkRevisions(t, f.s, "new", "2 delete", "1 apply")
		if want := fmt.Sprintf("batch %d", rb.ID); upd[0].Source != want {
			t.Errorf("upd's restore revision source = %q, want %q", upd[0].Source, want)
		}
		if want := fmt.Sprintf("batch %d", f.b.ID); created[1].Source != want || upd[1].Source != want {
			t.Errorf("apply revision sources = %q, %q, want %q", created[1].Source, upd[1].Source, want)
		}
	})

	t.Run("ConflictWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a := newJob(t, s, "a")
		b := newJob(t, s, "b")
		stale := *b
		stale.Description = "what the planner saw"
		aAfter, bAfter := *a, *b
		aAfter.Description, bAfter.Description = "a2", "b2"
		batch := &connecthub.Batch{CreatedAt: t0, Action: connecthub.BatchApply, Items: []connecthub.BatchItem{
			{JobID: "a", Before: a, After: &aAfter},
			{JobID: "b", Before: &stale, After: &bAfter},
			{JobID: "c", After: testJob("c")},
			{JobID: "a-gone", Before: testJob("a-gone")},
		}}
		err := s.BatchWrite(store.WithAudit(t.Context(), testAudit("config.apply", "batch", t0)), batch)
		requireKind(t, err, connecthub.KindConflict)
		if msg := err.Error(); !strings.Contains(msg, "b") || !strings.Contains(msg, "a-gone") || strings.Contains(msg, "job(s) a,") {
			t.Errorf("conflict %q should name b and a-gone and not a", msg)
		}
		if got := getJob(t, s, "a"); got.Description != a.Description {
			t.Errorf("a was written by a refused batch: %q", got.Description)
		}
		if _, err := s.JobGet(t.Context(), "c"); !connecthub.IsKind(err, connecthub.KindNotFound) {
			t.Errorf("c was created by a refused batch")
		}
		if list, _, err := s.BatchList(t.Context(), connecthub.BatchFilter{}); err != nil || len(list) != 0 {
			t.Errorf("BatchList after a refused batch = %d, %v; want none", len(list), err)
		}
		if entries, _, _ := s.AuditList(t.Context(), connecthub.AuditFilter{Action: "config.apply"}); len(entries) != 0 {
			t.Errorf("a refused batch left %d audit entries", len(entries))
		}
		// A job that exists is a conflict for a create too.
		err = s.BatchWrite(t.Context(), &connecthub.Batch{CreatedAt: t0, Action: connecthub.BatchApply,
			Items: []connecthub.BatchItem{{JobID: "a", After: testJob("a")}}})
		requireKind(t, err, connecthub.KindConflict)
	})

	t.Run("InvalidWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for name, b := range map[string]*connecthub.Batch{
			"no items":   {CreatedAt: t0, Action: connecthub.BatchApply},
			"bad action": {CreatedAt: t0, Action: "merge", Items: []connecthub.BatchItem{{JobID: "x", After: testJob("x")}}},
			"no time":    {Action: connecthub.BatchApply, Items: []connecthub.BatchItem{{JobID: "x", After: testJob("x")}}},
			"twice": {CreatedAt: t0, Action: connecthub.BatchApply, Items: []connecthub.BatchItem{
				{JobID: "x", After: testJob("x")}, {JobID: "x", After: testJob("x")}}},
			"empty item": {CreatedAt: t0, Action: connecthub.BatchApply, Items: []connecthub.BatchItem{{JobID: "x"}}},
			"bad id":     {CreatedAt: t0, Action: connecthub.BatchApply, Items: []connecthub.BatchItem{{JobID: "x y", After: testJob("x y")}}},
		} {
			requireKind(t, s.BatchWrite(t.Context(), b), connecthub.KindInvalid)
			_ = name
		}
		if _, err := s.JobGet(t.Context(), "x"); !connecthub.IsKind(err, connecthub.KindNotFound) {
			t.Errorf("an invalid batch created a job")
		}
	})

	t.Run("KeepsLaterLastRun", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		fired := t0.Add(-time.Minute)
		j := newJob(t, s, "j", func(j *connecthub.Job) { j.LastRunAt = &fired })
		after := *j
		after.LastRunAt, after.Description = nil, "new"
		if err := s.BatchWrite(t.Context(), &connecthub.Batch{CreatedAt: t0, Action: connecthub.BatchApply,
			Items: []connecthub.BatchItem{{JobID: "j", Before: j, After: &after}}}); err != nil {
			t.Fatal(err)
		}
		if got := getJob(t, s, "j"); got.LastRunAt == nil || !got.LastRunAt.Equal(fired.Truncate(time.Microsecond)) || got.Description != "new" {
			t.Errorf("last_run_at = %v, description %q; want %v kept", got.LastRunAt, got.Description, fired)
		}
	})

	t.Run("Chains", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// A job may chain to one the same batch creates after it.
		up := testJob("up")
		up.OnSuccess = []string{"down"}
		if err := s.BatchWrite(t.Context(), &connecthub.Batch{CreatedAt: t0, Action: connecthub.BatchApply,
			Items: []connecthub.BatchItem{{JobID: "up", After: up}, {JobID: "down", After: testJob("down")}}}); err != nil {
			t.Fatalf("a batch creating a chain: %v", err)
		}
		// Deleting a job another chains to is refused, nothing written:
		// neither the job's delete, nor its revision, nor the batch.
		revs := len(revisionsOf(t, s, "down"))
		err := s.BatchWrite(t.Context(), &connecthub.Batch{CreatedAt: t0, Action: connecthub.BatchApply,
			Items: []connecthub.BatchItem{{JobID: "down", Before: getJob(t, s, "down")}}})
		if err == nil {
			t.Fatal("a batch deleted a job another chains to")
		}
		getJob(t, s, "down")
		if got := len(revisionsOf(t, s, "down")); got != revs {
			t.Errorf("a refused batch left %d revisions of down, want %d", got, revs)
		}
		if list, _, err := s.BatchList(t.Context(), connecthub.BatchFilter{}); err != nil || len(list) != 1 {
			t.Errorf("BatchList after a refused batch = %d, %v; want the first batch alone", len(list), err)
		}
		// Deleting both in one batch is fine.
		if err := s.BatchWrite(t.Context(), &connecthub.Batch{CreatedAt: t0, Action: connecthub.BatchApply,
			Items: []connecthub.BatchItem{{JobID: "down", Before: getJob(t, s, "down")}, {JobID: "up", Before: getJob(t, s, "up")}}}); err != nil {
			t.Errorf("a batch deleting a chain and its target: %v", err)
		}
	})

	t.Run("ListPages", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for i, id := range []string{"p1", "p2", "p3"} {
			if err := s.BatchWrite(t.Context(), &connecthub.Batch{CreatedAt: t0.Add(time.Duration(i) * time.Second), Action: connecthub.BatchImport,
				Items: []connecthub.BatchItem{{JobID: id, After: testJob(id)}}}); err != nil {
				t.Fatal(err)
			}
		}
		page, next, err := s.BatchList(t.Context(), connecthub.BatchFilter{Limit: 2})
		if err != nil || len(page) != 2 || next == "" || page[0].ID <= page[1].ID || page[0].Items != nil {
			t.Fatalf("first page = %+v, %q, %v", page, next, err)
		}
		rest, next2, err := s.BatchList(t.Context(), connecthub.BatchFilter{Limit: 2, Cursor: next})
		if err != nil || len(rest) != 1 || next2 != "" || rest[0].ID >= page[1].ID || rest[0].Created != 1 {
			t.Fatalf("second page = %+v, %q, %v", rest, next2, err)
		}
		_, _, err = s.BatchList(t.Context(), connecthub.BatchFilter{Cursor: "x"})
		requireKind(t, err, connecthub.KindInvalid)
		_, err = s.BatchGet(t.Context(), 999)
		requireKind(t, err, connecthub.KindNotFound)
	})
}
