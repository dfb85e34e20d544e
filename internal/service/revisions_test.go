package service_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// TestRevisionRestore: a deleted job comes back from a revision with its
// definition and its very secret; diffs name the secret keys whose values
// changed and never a value; a restore is itself a revision.
func TestRevisionRestore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc := newService(t, nil)
	const first, second = "pin-1234", "pin-5678"
	if _, err := svc.JobCreate(ctx, jobInput(t, `{"id":"r","handler":"noop","description":"one","secret_cfg":{"pin":"`+first+`","user":"li"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.JobUpdate(ctx, "r", jobInput(t, `{"description":"two","secret_cfg":{"pin":"`+second+`","user":"li"}}`)); err != nil {
		t.Fatal(err)
	}
	// The same values entered again: a new encryption, the same fingerprints.
	if _, err := svc.JobUpdate(ctx, "r", jobInput(t, `{"secret_cfg":{"pin":"`+second+`","user":"li"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := svc.JobDelete(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	diff := func(a, b int) string {
		t.Helper()
		d, err := svc.RevisionDiff(ctx, "r", a, b)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(d)
		if strings.Contains(string(raw), "pin-") {
			t.Fatalf("diff %d→%d shows a secret value: %s", a, b, raw)
		}
		var out []string
		for _, c := range d.Changes {
			out = append(out, c.Field+": "+c.Before+" → "+c.After)
		}
		return strings.Join(out, "; ")
	}
	tests := []struct {
		a, b int
		want string
	}{
		{1, 2, "description: one → two; secret_cfg:  → keys [pin] changed"},
		{2, 3, ""},
		{3, 4, ""}, // the delete keeps the last definition
		{2, 1, "description: two → one; secret_cfg:  → keys [pin] changed"},
	}
	for _, tc := range tests {
		if got := diff(tc.a, tc.b); got != tc.want {
			t.Errorf("diff %d→%d = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
	deleted, _, err := svc.DeletedJobs(ctx, store.DeletedJobsParams{})
	if err != nil || len(deleted) != 1 || deleted[0].JobID != "r" || deleted[0].Last.Action != connecthub.RevisionDelete {
		t.Fatalf("DeletedJobs = %+v, %v", deleted, err)
	}

	j, _, err := svc.RevisionRestore(ctx, "r", 1)
	if err != nil {
		t.Fatal(err)
	}
	if j.Description != "one" || !j.HasSecret || strings.Join(j.SecretKeys, ",") != "pin,user" {
		t.Errorf("restored job = %+v", j)
	}
	revs, _, err := svc.RevisionList(ctx, connecthub.RevisionFilter{JobID: "r"})
	if err != nil || len(revs) != 5 || revs[0].Action != connecthub.RevisionRestore || revs[0].Source != "revision 1" {
		t.Fatalf("revisions after the restore = %v, %v", revs, err)
	}
	if got := diff(1, 5); got != "" {
		t.Errorf("the restore differs from revision 1: %s", got)
	}
	// Restoring what the job already is records nothing.
	if _, _, err := svc.RevisionRestore(ctx, "r", 5); err != nil {
		t.Fatal(err)
	}
	if revs, _, _ := svc.RevisionList(ctx, connecthub.RevisionFilter{JobID: "r"}); len(revs) != 5 {
		t.Errorf("a restore that changes nothing recorded a revision: %d", len(revs))
	}
	if _, _, err := svc.RevisionRestore(ctx, "r", 9); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Errorf("restore of a revision that does not exist = %v", err)
	}
	if _, _, err := svc.RevisionList(ctx, connecthub.RevisionFilter{JobID: "never"}); !connecthub.IsKind(err, connecthub.KindNotFound) {
		t.Errorf("revisions of a job that never existed = %v, want not found", err)
	}
}

// TestRevisionRestoreValidates: a revision whose handler nobody serves
// any more is refused like a save, naming the field, and changes nothing.
func TestRevisionRestoreValidates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	nodes := &fakeNodes{nodes: []*connecthub.Node{remote("w1", []connecthub.NodeHandler{pyExport})}}
	svc := newService(t, nodes)
	if _, err := svc.JobCreate(ctx, jobInput(t, `{"id":"v","handler":"py.export","public_cfg":{"form":"f"},"secret_cfg":{"password":"p"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.JobUpdate(ctx, "v", jobInput(t, `{"handler":"noop","public_cfg":{}}`)); err != nil {
		t.Fatal(err)
	}
	nodes.nodes = nil // the worker that served py.export is gone
	_, _, err := svc.RevisionRestore(ctx, "v", 1)
	var e *connecthub.Error
	if !errors.As(err, &e) || e.Kind != connecthub.KindInvalid || e.Field != "handler" {
		t.Fatalf("restore of a revision with an unserved handler = %v, want a 400 on handler", err)
	}
	j, err := svc.JobGet(ctx, "v")
	if err != nil || j.Handler != "noop" {
		t.Errorf("the refused restore changed the job: %+v, %v", j, err)
	}
	if revs, _, _ := svc.RevisionList(ctx, connecthub.RevisionFilter{JobID: "v"}); len(revs) != 2 {
		t.Errorf("the refused restore recorded a revision: %s", fmt.Sprint(len(revs)))
	}
}
