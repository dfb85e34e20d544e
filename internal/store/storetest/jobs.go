package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func exerciseJobs(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"CreateGetRoundTrip": func(t *testing.T, s store.Store) {
			want := testJob("oa.sync-legal_entity:1")
			want.CreatedAt = t0.In(shanghai)
			want.UpdatedAt = t0.Add(time.Second).In(shanghai)
			want.LastRunAt = ptr(t0.Add(-5 * time.Minute).In(shanghai))
			want.NextRunAt = ptr(t0.Add(5 * time.Minute))
			want.Priority = -7
			want.Enabled = false
			want.PublicCfg = json.RawMessage(`{"url": "https://example.test", "n": [1, 2, {"x": null}]}`)
			want.SecretKeys = []string{"password", "token"}
			createJob(t, s, want)
			checkJob(t, want, getJob(t, s, want.ID))
		},
		"CreateNilTimes": func(t *testing.T, s store.Store) {
			want := testJob("j")
			want.SecretKeys = nil
			want.HasSecret = false
			want.SecretCfg = ""
			createJob(t, s, want)
			got := getJob(t, s, "j")
			checkJob(t, want, got)
			if got.LastRunAt != nil || got.NextRunAt != nil {
				t.Errorf("last/next_run_at = %v/%v, want nil", got.LastRunAt, got.NextRunAt)
			}
		},
		"PublicCfgStoredTrimmed": func(t *testing.T, s store.Store) {
			// The white space around public_cfg is not kept, and a blank
			// one is stored as the empty object.
			for id, tc := range map[string]struct{ in, want string }{
				"padded": {" \n\t{\"a\":1}\r\n ", `{"a":1}`},
				"blank":  {" \n ", `{}`},
			} {
				j := testJob(id)
				j.PublicCfg = json.RawMessage(tc.in)
				createJob(t, s, j)
				got := getJob(t, s, id)
				if b := string(got.PublicCfg); strings.TrimSpace(b) != b || b == "" {
					t.Errorf("%s: public_cfg = %q, want it trimmed", id, b)
				}
				checkJSON(t, id+" public_cfg", json.RawMessage(tc.want), got.PublicCfg)
			}
		},
		"CreateConflict": func(t *testing.T, s store.Store) {
			newJob(t, s, "dup")
			err := s.JobCreate(t.Context(), testJob("dup"))
			requireKind(t, err, connecthub.KindConflict)
		},
		"GetNotFound": func(t *testing.T, s store.Store) {
			_, err := s.JobGet(t.Context(), "missing")
			requireKind(t, err, connecthub.KindNotFound)
		},
		"ListPages": func(t *testing.T, s store.Store) {
			for _, id := range []string{"j-03", "j-01", "j-05", "j-02", "j-04"} {
				newJob(t, s, id)
			}
			var pages [][]string
			cursor := ""
			for range 10 {
				jobs, next, err := s.JobList(t.Context(), store.JobListParams{Limit: 2, Cursor: cursor})
				if err != nil {
					t.Fatalf("JobList: %v", err)
				}
				pages = append(pages, jobIDs(jobs))
				if next == "" {
					break
				}
				cursor = next
			}
			want := [][]string{{"j-01", "j-02"}, {"j-03", "j-04"}, {"j-05"}}
			if fmt.Sprint(pages) != fmt.Sprint(want) {
				t.Fatalf("pages = %v, want %v", pages, want)
			}
		},
		"ListLastFullPageHasNoCursor": func(t *testing.T, s store.Store) {
			for _, id := range []string{"a", "b", "c", "d"} {
				newJob(t, s, id)
			}
			jobs, next, err := s.JobList(t.Context(), store.JobListParams{Limit: 2, Cursor: "b"})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "page", []string{"c", "d"}, jobIDs(jobs))
			if next != "" {
				t.Errorf("next cursor on the last page = %q, want \"\"", next)
			}
		},
		"ListFullRecords": func(t *testing.T, s store.Store) {
			want := newJob(t, s, "one", func(j *connecthub.Job) { j.NextRunAt = ptr(t0) })
			jobs, _, err := s.JobList(t.Context(), store.JobListParams{})
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != 1 {
				t.Fatalf("got %d jobs, want 1", len(jobs))
			}
			checkJob(t, want, jobs[0])
		},
		"ListDefaultLimit": func(t *testing.T, s store.Store) {
			for i := range 51 {
				newJob(t, s, fmt.Sprintf("job-%03d", i))
			}
			jobs, next, err := s.JobList(t.Context(), store.JobListParams{})
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != 50 || next != "job-049" {
				t.Fatalf("got %d jobs and cursor %q, want 50 and job-049", len(jobs), next)
			}
			jobs, next, err = s.JobList(t.Context(), store.JobListParams{Cursor: next})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "second page", []string{"job-050"}, jobIDs(jobs))
			if next != "" {
				t.Errorf("cursor = %q, want \"\"", next)
			}
		},
		"ListBadLimit": func(t *testing.T, s store.Store) {
			for _, limit := range []int{-1, 501} {
				_, _, err := s.JobList(t.Context(), store.JobListParams{Limit: limit})
				requireKind(t, err, connecthub.KindInvalid)
			}
			if _, _, err := s.JobList(t.Context(), store.JobListParams{Limit: 500}); err != nil {
				t.Errorf("limit 500: %v", err)
			}
		},
		"ListFilters": func(t *testing.T, s store.Store) {
			newJob(t, s, "oa.sync-legal", func(j *connecthub.Job) { j.Description = "Sync LEGAL entities"; j.Handler = "sync" })
			newJob(t, s, "didi.member", func(j *connecthub.Job) { j.Description = "members"; j.Enabled = false; j.Handler = "sync" })
			newJob(t, s, "other", func(j *connecthub.Job) { j.Description = "Nothing to see_100%" })
			tests := []struct {
				name string
				p    store.JobListParams
				want []string
			}{
				{"query in id and description", store.JobListParams{Query: "legal"}, []string{"oa.sync-legal"}},
				{"query case-insensitive", store.JobListParams{Query: "MEMBER"}, []string{"didi.member"}},
				{"query in description only", store.JobListParams{Query: "nothing"}, []string{"other"}},
				{"query wildcards are literal", store.JobListParams{Query: "_100%"}, []string{"other"}},
				{"query percent is literal", store.JobListParams{Query: "%"}, []string{"other"}},
				{"query no match", store.JobListParams{Query: "zzz"}, nil},
				{"enabled", store.JobListParams{Enabled: ptr(true)}, []string{"oa.sync-legal", "other"}},
				{"disabled", store.JobListParams{Enabled: ptr(false)}, []string{"didi.member"}},
				{"handler", store.JobListParams{Handler: "sync"}, []string{"didi.member", "oa.sync-legal"}},
				{"combined", store.JobListParams{Handler: "sync", Enabled: ptr(true), Query: "sync"}, []string{"oa.sync-legal"}},
				{"handler no match", store.JobListParams{Handler: "nope"}, nil},
			}
			for _, tt := range tests {
				jobs, next, err := s.JobList(t.Context(), tt.p)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				checkStrings(t, tt.name, tt.want, jobIDs(jobs))
				if next != "" {
					t.Errorf("%s: cursor = %q, want \"\"", tt.name, next)
				}
			}
		},
		"UpdateWrites": func(t *testing.T, s store.Store) {
			newJob(t, s, "j")
			want := getJob(t, s, "j")
			got, err := s.JobUpdate(t.Context(), "j", func(j *connecthub.Job) error {
				j.Description = "changed"
				j.Enabled = false
				j.PublicCfg = json.RawMessage(`{"new":true}`)
				j.SecretKeys = []string{"a", "b"}
				j.SecretCfg = "gAAAAAB-new"
				j.NextRunAt = ptr(t0.Add(time.Hour))
				j.UpdatedAt = t0.Add(time.Minute)
				return nil
			})
			if err != nil {
				t.Fatalf("JobUpdate: %v", err)
			}
			want.Description = "changed"
			want.Enabled = false
			want.PublicCfg = json.RawMessage(`{"new":true}`)
			want.SecretKeys = []string{"a", "b"}
			want.SecretCfg = "gAAAAAB-new"
			want.NextRunAt = ptr(t0.Add(time.Hour))
			want.UpdatedAt = t0.Add(time.Minute)
			checkJob(t, want, got)
			checkJob(t, want, getJob(t, s, "j"))
		},
		"UpdateErrorAborts": func(t *testing.T, s store.Store) {
			want := newJob(t, s, "j")
			boom := errors.New("boom")
			_, err := s.JobUpdate(t.Context(), "j", func(j *connecthub.Job) error {
				j.Description = "must not be written"
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("JobUpdate error = %v, want the update's own error", err)
			}
			checkJob(t, want, getJob(t, s, "j"))
		},
		"UpdateCannotChangeID": func(t *testing.T, s store.Store) {
			want := newJob(t, s, "j")
			_, err := s.JobUpdate(t.Context(), "j", func(j *connecthub.Job) error {
				j.ID = "other"
				j.Description = "must not be written"
				return nil
			})
			requireKind(t, err, connecthub.KindInvalid)
			checkJob(t, want, getJob(t, s, "j"))
			if _, err := s.JobGet(t.Context(), "other"); !connecthub.IsKind(err, connecthub.KindNotFound) {
				t.Errorf("JobGet(other) = %v, want not found", err)
			}
		},
		"UpdateNotFound": func(t *testing.T, s store.Store) {
			called := false
			_, err := s.JobUpdate(t.Context(), "missing", func(*connecthub.Job) error { called = true; return nil })
			requireKind(t, err, connecthub.KindNotFound)
			if called {
				t.Error("update was called for a missing job")
			}
		},
		"UpdateNeedsFunction": func(t *testing.T, s store.Store) {
			newJob(t, s, "j")
			_, err := s.JobUpdate(t.Context(), "j", nil)
			requireKind(t, err, connecthub.KindInvalid)
		},
		"UpdateIsAtomic": func(t *testing.T, s store.Store) {
			newJob(t, s, "counter")
			const n = 25
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Go(func() {
					_, err := s.JobUpdate(t.Context(), "counter", func(j *connecthub.Job) error {
						j.Priority++
						return nil
					})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("JobUpdate: %v", err)
				}
			}
			if got := getJob(t, s, "counter").Priority; got != n {
				t.Fatalf("priority after %d concurrent increments = %d", n, got)
			}
		},
		"DeleteCascadesRuns": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "doomed")
			keep := newJob(t, s, "kept")
			queued := queuedRun(t, s, j, t0)
			running := runningRun(t, s, j, node1, t0)
			if err := s.RunLogAppend(t.Context(), running.ID, "some log\n"); err != nil {
				t.Fatal(err)
			}
			kept := queuedRun(t, s, keep, t0)
			if err := s.JobDelete(t.Context(), "doomed"); err != nil {
				t.Fatalf("JobDelete: %v", err)
			}
			if _, err := s.JobGet(t.Context(), "doomed"); !connecthub.IsKind(err, connecthub.KindNotFound) {
				t.Errorf("JobGet after delete = %v, want not found", err)
			}
			for _, id := range []string{queued.ID, running.ID} {
				if _, err := s.RunGet(t.Context(), id); !connecthub.IsKind(err, connecthub.KindNotFound) {
					t.Errorf("RunGet(%s) after JobDelete = %v, want not found", id, err)
				}
			}
			if _, err := s.RunLogRead(t.Context(), running.ID, 0); !connecthub.IsKind(err, connecthub.KindNotFound) {
				t.Errorf("RunLogRead after JobDelete = %v, want not found", err)
			}
			runs, _, err := s.RunList(t.Context(), store.RunListParams{JobID: "doomed"})
			if err != nil || len(runs) != 0 {
				t.Errorf("RunList(doomed) = %v, %v; want none", ids(runs), err)
			}
			checkStatus(t, s, kept.ID, connecthub.StatusQueued)
			hb, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: node1, IDs: []string{running.ID}, LeaseTTL: ttl, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "lost after delete", []string{running.ID}, hb.Lost)
		},
		"DeleteNotFound": func(t *testing.T, s store.Store) {
			requireKind(t, s.JobDelete(t.Context(), "missing"), connecthub.KindNotFound)
		},
		"ListDue": func(t *testing.T, s store.Store) {
			at := func(d time.Duration) func(*connecthub.Job) {
				return func(j *connecthub.Job) { j.NextRunAt = ptr(t0.Add(d)) }
			}
			newJob(t, s, "due-2m", at(-2*time.Minute))
			newJob(t, s, "due-now", at(0))
			newJob(t, s, "due-1m", at(-time.Minute))
			newJob(t, s, "later", at(time.Minute))
			newJob(t, s, "disabled", at(-3*time.Minute), func(j *connecthub.Job) { j.Enabled = false })
			newJob(t, s, "on-demand")
			jobs, err := s.JobListDue(t.Context(), t0, 10)
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "due", []string{"due-2m", "due-1m", "due-now"}, jobIDs(jobs))
			checkJob(t, getJob(t, s, "due-2m"), jobs[0])
			jobs, err = s.JobListDue(t.Context(), t0, 2)
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "due, limit 2", []string{"due-2m", "due-1m"}, jobIDs(jobs))
			jobs, err = s.JobListDue(t.Context(), t0.Add(-time.Hour), 10)
			if err != nil || len(jobs) != 0 {
				t.Errorf("nothing due an hour earlier: got %v, %v", jobIDs(jobs), err)
			}
			_, err = s.JobListDue(t.Context(), t0, 0)
			requireKind(t, err, connecthub.KindInvalid)
		},
		"NextDue": func(t *testing.T, s store.Store) {
			next, err := s.JobNextDue(t.Context())
			if err != nil || next != nil {
				t.Fatalf("JobNextDue on an empty store = %v, %v; want nil", next, err)
			}
			newJob(t, s, "on-demand")
			newJob(t, s, "disabled", func(j *connecthub.Job) { j.Enabled = false; j.NextRunAt = ptr(t0.Add(-time.Hour)) })
			if next, err = s.JobNextDue(t.Context()); err != nil || next != nil {
				t.Fatalf("JobNextDue with no enabled slot = %v, %v; want nil", next, err)
			}
			newJob(t, s, "b", func(j *connecthub.Job) { j.NextRunAt = ptr(t0.Add(time.Minute)) })
			newJob(t, s, "a", func(j *connecthub.Job) { j.NextRunAt = ptr(t0.In(shanghai)) })
			next, err = s.JobNextDue(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			checkTimePtr(t, "next due", ptr(t0), next)
		},
	})
}

// checkJob compares every field of a job as stored.
func checkJob(t *testing.T, want, got *connecthub.Job) {
	t.Helper()
	if got == nil {
		t.Fatalf("job %s is nil", want.ID)
	}
	type plain struct {
		ID, Description, CronExpr, Timezone, Handler, SecretCfg, Concurrency, Misfire, Queue string
		Enabled, HasSecret                                                                   bool
		Timeout, RetryBackoff, MisfireWindow                                                 connecthub.Duration
		MaxAttempts, Priority                                                                int
	}
	w := plain{want.ID, want.Description, want.CronExpr, want.Timezone, want.Handler, want.SecretCfg, want.Concurrency, want.Misfire, want.Queue,
		want.Enabled, want.HasSecret, want.Timeout, want.RetryBackoff, want.MisfireWindow, want.MaxAttempts, want.Priority}
	g := plain{got.ID, got.Description, got.CronExpr, got.Timezone, got.Handler, got.SecretCfg, got.Concurrency, got.Misfire, got.Queue,
		got.Enabled, got.HasSecret, got.Timeout, got.RetryBackoff, got.MisfireWindow, got.MaxAttempts, got.Priority}
	if w != g {
		t.Errorf("job %s:\n got %+v\nwant %+v", want.ID, g, w)
	}
	if want.Calendar != got.Calendar || want.CalendarMode != got.CalendarMode {
		t.Errorf("job %s: calendar %q %q, want %q %q", want.ID, got.Calendar, got.CalendarMode, want.Calendar, want.CalendarMode)
	}
	checkJSON(t, "public_cfg", want.PublicCfg, got.PublicCfg)
	checkStrings(t, "secret_keys", want.SecretKeys, got.SecretKeys)
	checkTimePtr(t, "last_run_at", want.LastRunAt, got.LastRunAt)
	checkTimePtr(t, "next_run_at", want.NextRunAt, got.NextRunAt)
	checkTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	checkTime(t, "updated_at", want.UpdatedAt, got.UpdatedAt)
}
