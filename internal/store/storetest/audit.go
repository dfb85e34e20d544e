package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func testAudit(action, target string, at time.Time) *connecthub.AuditEntry {
	return &connecthub.AuditEntry{At: at, Actor: "li.lei", ActorKind: connecthub.PrincipalSession, Action: action,
		Target: target, Client: "192.0.2.7"}
}

func auditList(t *testing.T, s store.Store, f connecthub.AuditFilter) ([]*connecthub.AuditEntry, string) {
	t.Helper()
	list, next, err := s.AuditList(t.Context(), f)
	if err != nil {
		t.Fatalf("AuditList(%+v): %v", f, err)
	}
	return list, next
}

func auditActions(list []*connecthub.AuditEntry) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Action + " " + e.Target
	}
	return out
}

func exerciseAudit(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"AppendListFilterPage": func(t *testing.T, s store.Store) {
			for i, a := range []struct{ action, target, actor string }{
				{"login.ok", "user:li.lei", "li.lei"}, {"job.create", "job:a", "li.lei"}, {"job.update", "job:a", "han"},
				{"job.delete", "job:b", "han"}, {"run.now", "job:a", "li.lei"},
			} {
				e := testAudit(a.action, a.target, t0.Add(time.Duration(i)*time.Minute).In(shanghai))
				e.Actor = a.actor
				if i == 2 {
					e.Changes = []connecthub.AuditChange{{Field: "cron_expr", Before: "0 * * * *", After: "*/5 * * * *"},
						{Field: "secret_cfg", After: "keys [api_key] changed"}}
					e.BreakGlass, e.Detail = true, "李雷 was here"
				}
				if err := s.AuditAppend(t.Context(), e); err != nil || e.ID == 0 {
					t.Fatalf("AuditAppend: %v (id %d)", err, e.ID)
				}
			}
			all, next := auditList(t, s, connecthub.AuditFilter{})
			if want := []string{"run.now job:a", "job.delete job:b", "job.update job:a", "job.create job:a", "login.ok user:li.lei"}; !slices.Equal(auditActions(all), want) || next != "" {
				t.Fatalf("AuditList = %v (next %q), want %v", auditActions(all), next, want)
			}
			upd := all[2]
			checkTime(t, "at", t0.Add(2*time.Minute), upd.At)
			if len(upd.Changes) != 2 || upd.Changes[1].After != "keys [api_key] changed" || !upd.BreakGlass || upd.Detail != "李雷 was here" || upd.Client != "192.0.2.7" {
				t.Errorf("entry read back: %+v", upd)
			}
			for _, c := range []struct {
				f    connecthub.AuditFilter
				want []string
			}{
				{connecthub.AuditFilter{Actor: "han"}, []string{"job.delete job:b", "job.update job:a"}},
				{connecthub.AuditFilter{Action: "job."}, []string{"job.delete job:b", "job.update job:a", "job.create job:a"}},
				{connecthub.AuditFilter{Action: "job"}, []string{}},
				{connecthub.AuditFilter{Action: "job.update"}, []string{"job.update job:a"}},
				{connecthub.AuditFilter{Target: "job:a"}, []string{"run.now job:a", "job.update job:a", "job.create job:a"}},
				{connecthub.AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"job.update job:a", "job.create job:a"}},
				{connecthub.AuditFilter{Target: "job:a", Actor: "li.lei", Action: "run."}, []string{"run.now job:a"}},
			} {
				got, _ := auditList(t, s, c.f)
				if !slices.Equal(auditActions(got), c.want) {
					t.Errorf("AuditList(%+v) = %v, want %v", c.f, auditActions(got), c.want)
				}
			}
			var pages []string
			f := connecthub.AuditFilter{Limit: 2}
			for range 5 {
				page, next := auditList(t, s, f)
				pages = append(pages, auditActions(page)...)
				if next == "" {
					break
				}
				f.Cursor = next
			}
			if !slices.Equal(pages, auditActions(all)) {
				t.Errorf("paged = %v, want %v", pages, auditActions(all))
			}
			for _, bad := range []connecthub.AuditFilter{{Cursor: "x"}, {Limit: -1}, {Since: t0, Until: t0}} {
				if _, _, err := s.AuditList(t.Context(), bad); !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("AuditList(%+v) = %v, want KindInvalid", bad, err)
				}
			}
			requireKind(t, s.AuditAppend(t.Context(), testAudit("", "job:a", t0)), connecthub.KindInvalid)
			requireKind(t, s.AuditAppend(t.Context(), testAudit("job.create", "job:a", time.Time{})), connecthub.KindInvalid)
		},
		"WrittenWithTheChange": func(t *testing.T, s store.Store) {
			ctx := t.Context()
			e := testAudit("job.create", "job:a", t0)
			createJob(t, &auditedStore{s, e}, testJob("a"))
			upd := testAudit("job.update", "job:a", t0.Add(time.Minute))
			if _, err := s.JobUpdate(store.WithAudit(ctx, upd), "a", func(j *connecthub.Job) error {
				before := *j
				j.Description = "changed"
				upd.Changes = store.JobAuditChanges(&before, j) // filled inside the transaction
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			mine := errors.New("mine")
			if _, err := s.JobUpdate(store.WithAudit(ctx, testAudit("job.update", "job:a", t0)), "a", func(*connecthub.Job) error { return mine }); !errors.Is(err, mine) {
				t.Fatalf("JobUpdate = %v", err)
			}
			requireKind(t, s.JobDelete(store.WithAudit(ctx, testAudit("job.delete", "job:nope", t0)), "nope"), connecthub.KindNotFound)
			_, err := s.RunDeleteFinished(store.WithAudit(ctx, testAudit("runs.purge", "job:nope", t0)), "nope")
			requireKind(t, err, connecthub.KindNotFound)
			requireKind(t, s.SessionRevoke(store.WithAudit(ctx, testAudit("logout", "session:nope", t0)), "nope", t0), connecthub.KindNotFound)
			requireKind(t, s.TokenRevoke(store.WithAudit(ctx, testAudit("token.revoke", "token:nope", t0)), "nope", t0), connecthub.KindNotFound)

			// An audit entry that cannot be written fails the change.
			bad := testAudit("", "job:b", t0)
			requireKind(t, s.JobCreate(store.WithAudit(ctx, bad), testJob("b")), connecthub.KindInvalid)
			if _, err := s.JobGet(ctx, "b"); !connecthub.IsKind(err, connecthub.KindNotFound) {
				t.Fatalf("the job was created without its audit entry: %v", err)
			}
			requireKind(t, s.UserCreate(store.WithAudit(ctx, testAudit("user.create", "", time.Time{})), testUser("x", t0)), connecthub.KindInvalid)
			if _, err := s.UserGet(ctx, "x"); !connecthub.IsKind(err, connecthub.KindNotFound) {
				t.Fatalf("the user was created without its audit entry: %v", err)
			}

			// Every kind of audited mutation writes its entry, once.
			once := store.WithAudit(ctx, testAudit("user.create", "user:li.lei", t0))
			if err := s.UserCreate(once, testUser("li.lei", t0)); err != nil {
				t.Fatal(err)
			}
			if err := s.UserLoggedIn(once, "li.lei", t0); err != nil { // the same context: not written again
				t.Fatal(err)
			}
			steps := []func(ctx context.Context) error{
				func(ctx context.Context) error {
					tok := testToken("tok_1", "ci", t0)
					tok.Scope, tok.Owner = connecthub.ScopeUser, "li.lei"
					return s.TokenCreate(ctx, tok)
				},
				func(ctx context.Context) error { return s.TokenRevoke(ctx, "ci", t0) },
				func(ctx context.Context) error { return s.SessionCreate(ctx, testSession("ses_1", t0, time.Hour)) },
				func(ctx context.Context) error { return s.SessionRevoke(ctx, "ses_1", t0) },
				func(ctx context.Context) error {
					_, err := s.UserUpdate(ctx, "li.lei", t0, func(u *connecthub.User) error { u.Role = connecthub.RoleAdmin; return nil })
					return err
				},
				func(ctx context.Context) error {
					return s.RunInsert(ctx, []*connecthub.Run{manualRun(getJob(t, s, "a"), t0)})
				},
				func(ctx context.Context) error { _, err := s.RunDeleteFinished(ctx, "a"); return err },
				func(ctx context.Context) error { return s.JobDelete(ctx, "a") },
				func(ctx context.Context) error { _, err := s.CalendarPut(ctx, testCalendar("cal"), t0); return err },
				func(ctx context.Context) error { return s.CalendarDelete(ctx, "cal") },
			}
			for i, step := range steps {
				if err := step(store.WithAudit(ctx, testAudit(fmt.Sprintf("step.s%c", 'a'+i), "", t0))); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			all, _ := auditList(t, s, connecthub.AuditFilter{})
			want := []string{"step.sj ", "step.si ", "step.sh ", "step.sg ", "step.sf ", "step.se ", "step.sd ", "step.sc ", "step.sb ", "step.sa ",
				"user.create user:li.lei", "job.update job:a", "job.create job:a"}
			if !slices.Equal(auditActions(all), want) {
				t.Fatalf("audit = %v, want %v", auditActions(all), want)
			}
			if c := all[11].Changes; len(c) != 1 || c[0].Field != "description" || c[0].After != "changed" {
				t.Errorf("job.update changes = %+v", c)
			}
			if e.ID == 0 || e.ID != all[12].ID {
				t.Errorf("the written entry's id = %d, want %d", e.ID, all[12].ID)
			}
		},
		"Purge": func(t *testing.T, s store.Store) {
			for i := range 5 {
				if err := s.AuditAppend(t.Context(), testAudit("login.ok", "", t0.Add(time.Duration(i)*time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.AuditPurge(t.Context(), t0.Add(3*time.Hour), 2)
			if err != nil || n != 2 {
				t.Fatalf("AuditPurge = %d, %v; want 2 (the limit)", n, err)
			}
			n, err = s.AuditPurge(t.Context(), t0.Add(3*time.Hour), 100)
			if err != nil || n != 1 {
				t.Fatalf("AuditPurge = %d, %v; want 1", n, err)
			}
			left, _ := auditList(t, s, connecthub.AuditFilter{})
			if len(left) != 2 {
				t.Errorf("%d entries left, want 2", len(left))
			}
			_, err = s.AuditPurge(t.Context(), time.Time{}, 1)
			requireKind(t, err, connecthub.KindInvalid)
			_, err = s.AuditPurge(t.Context(), t0, 0)
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}

// auditedStore calls JobCreate with an audit entry, for createJob.
type auditedStore struct {
	store.Store
	e *connecthub.AuditEntry
}

func (a *auditedStore) JobCreate(ctx context.Context, j *connecthub.Job) error {
	return a.Store.JobCreate(store.WithAudit(ctx, a.e), j)
}
