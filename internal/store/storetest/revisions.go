package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// revisionsOf returns every revision of a job, newest first, reading one
// page at a time of size 2 so that paging is exercised too.
func revisionsOf(t *testing.T, s store.Store, id string) []*connecthub.Revision {
	t.Helper()
	var all []*connecthub.Revision
	cursor := ""
	for range 1000 {
		page, next, err := s.RevisionList(t.Context(), connecthub.RevisionFilter{JobID: id, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatalf("RevisionList(%s, %q): %v", id, cursor, err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
	t.Fatal("RevisionList never reached its last page")
	return nil
}

// revisionSummary is "number action" of each revision, newest first.
func revisionSummary(revs []*connecthub.Revision) []string {
	out := make([]string, len(revs))
	for i, r := range revs {
		out[i] = fmt.Sprintf("%d %s", r.Revision, r.Action)
	}
	return out
}

func checkRevisions(t *testing.T, s store.Store, id string, want ...string) []*connecthub.Revision {
	t.Helper()
	revs := revisionsOf(t, s, id)
	if got := revisionSummary(revs); !slices.Equal(got, want) {
		t.Fatalf("revisions of %s = %q, want %q", id, got, want)
	}
	for _, r := range revs {
		if r.JobID != id || r.SecretCfg != "" || r.At.IsZero() || r.At.Location() != time.UTC {
			t.Errorf("listed revision %+v: want job %s, no secret token, a UTC time", r, id)
		}
	}
	return revs
}

// definitionField reads one field of a revision's definition.
func definitionField(t *testing.T, r *connecthub.Revision, field string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Definition, &m); err != nil {
		t.Fatalf("revision %d definition %s: %v", r.Revision, r.Definition, err)
	}
	return string(m[field])
}

func exerciseRevisions(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"EveryChangeRecordsOne": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			newJob(t, s, "a")
			setDesc := func(d string) {
				if _, err := s.JobUpdate(ctx, "a", func(j *connecthub.Job) error { j.Description = d; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			setDesc("second")
			// A re-plan changes only what the server maintains: no revision.
			if _, err := s.JobUpdate(ctx, "a", func(j *connecthub.Job) error {
				next, last := t0.Add(time.Hour), t0
				j.NextRunAt, j.LastRunAt, j.UpdatedAt = &next, &last, t0.Add(time.Minute)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// Disabling is a change.
			if _, err := s.JobUpdate(ctx, "a", func(j *connecthub.Job) error { j.Enabled = false; return nil }); err != nil {
				t.Fatal(err)
			}
			// A new secret token is a change, even with the same keys.
			if _, err := s.JobUpdate(ctx, "a", func(j *connecthub.Job) error { j.SecretCfg = "gAAAAAB-other"; return nil }); err != nil {
				t.Fatal(err)
			}
			revs := checkRevisions(t, s, "a", "4 update", "3 update", "2 update", "1 create")
			if got := definitionField(t, revs[3], "description"); got != `"job a"` {
				t.Errorf("revision 1 description = %s", got)
			}
			if got := definitionField(t, revs[2], "description"); got != `"second"` {
				t.Errorf("revision 2 description = %s", got)
			}
			if got := definitionField(t, revs[1], "enabled"); got != "false" {
				t.Errorf("revision 3 enabled = %s", got)
			}
			for _, skipped := range []string{"next_run_at", "last_run_at", "updated_at", "created_at", "has_secret", "secret_keys"} {
				if got := definitionField(t, revs[0], skipped); got != "" {
					t.Errorf("definition keeps %s = %s; it must leave out what the server maintains and the secrets", skipped, got)
				}
			}
			if !slices.Equal(revs[0].SecretKeys, []string{"password"}) {
				t.Errorf("secret keys = %q", revs[0].SecretKeys)
			}
			for n, want := range map[int]string{1: "gAAAAAB-token-of-a", 4: "gAAAAAB-other"} {
				r, err := s.RevisionGet(ctx, "a", n)
				if err != nil || r.SecretCfg != want || r.Revision != n {
					t.Errorf("RevisionGet(a, %d) = %+v, %v; want the secret token %q", n, r, err, want)
				}
			}
		},
		"DeleteKeepsRevisionsAndNumbering": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			newJob(t, s, "gone", func(j *connecthub.Job) { j.Description = "last words" })
			newJob(t, s, "kept")
			if err := s.JobDelete(ctx, "gone"); err != nil {
				t.Fatal(err)
			}
			revs := checkRevisions(t, s, "gone", "2 delete", "1 create")
			if got := definitionField(t, revs[0], "description"); got != `"last words"` {
				t.Errorf("the delete revision keeps description %s, want the job's last", got)
			}
			if r, err := s.RevisionGet(ctx, "gone", 2); err != nil || r.SecretCfg != "gAAAAAB-token-of-gone" {
				t.Errorf("RevisionGet of the delete = %+v, %v; want the deleted job's secret token", r, err)
			}
			deleted, next, err := s.RevisionDeletedJobs(ctx, store.DeletedJobsParams{})
			if err != nil || next != "" || len(deleted) != 1 || deleted[0].JobID != "gone" || deleted[0].Last.Revision != 2 ||
				deleted[0].Last.Action != connecthub.RevisionDelete || deleted[0].Last.SecretCfg != "" {
				t.Fatalf("RevisionDeletedJobs = %+v, %q, %v; want job gone with its delete revision", deleted, next, err)
			}
			// The same id again continues the numbering.
			newJob(t, s, "gone")
			checkRevisions(t, s, "gone", "3 create", "2 delete", "1 create")
			if deleted, _, err := s.RevisionDeletedJobs(ctx, store.DeletedJobsParams{}); err != nil || len(deleted) != 0 {
				t.Errorf("RevisionDeletedJobs after re-creation = %+v, %v; want none", deleted, err)
			}
		},
		"DeletedJobsPage": func(t *testing.T, s store.Store) {
			for _, id := range []string{"d1", "d2", "d3"} {
				newJob(t, s, id)
				if err := s.JobDelete(t.Context(), id); err != nil {
					t.Fatal(err)
				}
			}
			page, next, err := s.RevisionDeletedJobs(t.Context(), store.DeletedJobsParams{Limit: 2})
			if err != nil || len(page) != 2 || page[0].JobID != "d1" || page[1].JobID != "d2" || next != "d2" {
				t.Fatalf("first page = %+v, %q, %v", page, next, err)
			}
			page, next, err = s.RevisionDeletedJobs(t.Context(), store.DeletedJobsParams{Limit: 2, Cursor: next})
			if err != nil || len(page) != 1 || page[0].JobID != "d3" || next != "" {
				t.Fatalf("second page = %+v, %q, %v", page, next, err)
			}
		},
		"FailedChangeRecordsNone": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			newJob(t, s, "a")
			mine := errors.New("refused")
			if _, err := s.JobUpdate(ctx, "a", func(j *connecthub.Job) error { j.Description = "x"; return mine }); !errors.Is(err, mine) {
				t.Fatalf("JobUpdate = %v", err)
			}
			requireKind(t, s.JobCreate(ctx, testJob("a")), connecthub.KindConflict)
			requireKind(t, s.JobDelete(ctx, "nope"), connecthub.KindNotFound)
			// An audit entry that cannot be written fails the change at
			// its commit: the job and its revision go back together.
			bad := testAudit("BAD ACTION", "job:a", t0)
			if _, err := s.JobUpdate(store.WithAudit(ctx, bad), "a", func(j *connecthub.Job) error { j.Description = "x"; return nil }); err == nil {
				t.Fatal("JobUpdate with an invalid audit entry succeeded")
			}
			requireKind(t, s.JobDelete(store.WithAudit(ctx, bad), "a"), connecthub.KindInvalid)
			checkRevisions(t, s, "a", "1 create")
			if _, _, err := s.RevisionList(ctx, connecthub.RevisionFilter{JobID: "nope"}); err != nil {
				t.Errorf("RevisionList of a job without revisions: %v", err)
			}
			if _, err := s.JobUpdate(ctx, "a", func(j *connecthub.Job) error { j.Description = "y"; return nil }); err != nil {
				t.Fatal(err)
			}
			checkRevisions(t, s, "a", "2 update", "1 create") // no gap
			if getJob(t, s, "a").Description != "y" {
				t.Error("the job did not keep its successful update")
			}
		},
		"ActorActionAndFingerprintFromContext": func(t *testing.T, s store.Store) {
			ctx := store.WithFingerprinter(t.Context(), func(token string) (*connecthub.SecretFingerprint, error) {
				return &connecthub.SecretFingerprint{KeyID: "k1", Values: map[string]string{"password": "fp-" + token}}, nil
			})
			if err := s.JobCreate(store.WithAudit(ctx, testAudit("job.create", "job:a", t0)), testJob("a")); err != nil {
				t.Fatal(err)
			}
			rctx := store.WithRevisionSource(store.WithAudit(ctx, testAudit("job.restore", "job:a", t0.Add(time.Second))),
				connecthub.RevisionRestore, "revision 1")
			if _, err := s.JobUpdate(rctx, "a", func(j *connecthub.Job) error { j.Priority = 5; return nil }); err != nil {
				t.Fatal(err)
			}
			dctx := store.WithRevisionSource(ctx, connecthub.RevisionApply, "batch 7")
			if err := s.JobDelete(dctx, "a"); err != nil {
				t.Fatal(err)
			}
			revs := checkRevisions(t, s, "a", "3 delete", "2 restore", "1 create")
			first, second, third := revs[2], revs[1], revs[0]
			if first.Actor != "li.lei" || first.ActorKind != connecthub.PrincipalSession || !first.At.Equal(t0.Truncate(time.Microsecond)) {
				t.Errorf("revision 1 by %s (%s) at %v; want the audit entry's actor and time", first.Actor, first.ActorKind, first.At)
			}
			if second.Source != "revision 1" || !second.At.Equal(t0.Add(time.Second).Truncate(time.Microsecond)) {
				t.Errorf("revision 2 source %q at %v", second.Source, second.At)
			}
			if third.Actor != connecthub.ActorSystem || third.Source != "batch 7" {
				t.Errorf("revision 3 by %s, source %q; want the system (no audit entry) and the batch", third.Actor, third.Source)
			}
			if fp := first.Fingerprint; fp == nil || fp.KeyID != "k1" || fp.Values["password"] != "fp-gAAAAAB-token-of-a" {
				t.Errorf("fingerprint = %+v", fp)
			}
		},
		"NoSecretNoFingerprint": func(t *testing.T, s store.Store) {
			ctx := store.WithFingerprinter(t.Context(), func(string) (*connecthub.SecretFingerprint, error) {
				t.Error("fingerprinter called for a job without secrets")
				return nil, nil
			})
			j := testJob("plain")
			j.SecretCfg, j.SecretKeys, j.HasSecret = "", nil, false
			if err := s.JobCreate(ctx, j); err != nil {
				t.Fatal(err)
			}
			r, err := s.RevisionGet(ctx, "plain", 1)
			if err != nil || r.Fingerprint != nil || r.SecretCfg != "" || r.SecretKeys == nil || len(r.SecretKeys) != 0 {
				t.Errorf("RevisionGet = %+v, %v; want no secret, no fingerprint and an empty key list", r, err)
			}
		},
		"ConcurrentUpdatesGetDistinctNumbers": func(t *testing.T, s store.Store) {
			newJob(t, s, "a")
			const writers = 8
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for i := range writers {
				wg.Go(func() {
					_, err := s.JobUpdate(t.Context(), "a", func(j *connecthub.Job) error {
						j.Description = fmt.Sprintf("writer %d", i)
						return nil
					})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			revs := revisionsOf(t, s, "a")
			if len(revs) != writers+1 {
				t.Fatalf("%d revisions, want %d", len(revs), writers+1)
			}
			seen := map[string]bool{}
			for i, r := range revs {
				if r.Revision != writers+1-i {
					t.Errorf("revision at %d is number %d, want %d (no gaps, no repeats)", i, r.Revision, writers+1-i)
				}
				seen[definitionField(t, r, "description")] = true
			}
			if len(seen) != writers+1 {
				t.Errorf("the revisions hold %d distinct descriptions, want every writer's and the first", len(seen))
			}
		},
		"BadArguments": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			_, _, err := s.RevisionList(ctx, connecthub.RevisionFilter{})
			requireKind(t, err, connecthub.KindInvalid)
			for _, c := range []string{"x", "0", "-1"} {
				_, _, err = s.RevisionList(ctx, connecthub.RevisionFilter{JobID: "a", Cursor: c})
				requireKind(t, err, connecthub.KindInvalid)
			}
			_, _, err = s.RevisionList(ctx, connecthub.RevisionFilter{JobID: "a", Limit: store.MaxPageLimit + 1})
			requireKind(t, err, connecthub.KindInvalid)
			_, err = s.RevisionGet(ctx, "a", 1)
			requireKind(t, err, connecthub.KindNotFound)
			_, _, err = s.RevisionDeletedJobs(ctx, store.DeletedJobsParams{Limit: -1})
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}
