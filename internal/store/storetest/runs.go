package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func exerciseRuns(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"InsertAssignsULIDs": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			batch := make([]*connecthub.Run, 50)
			for i := range batch {
				batch[i] = manualRun(j, t0)
			}
			insertRuns(t, s, batch...)
			later := queuedRun(t, s, j, t0.Add(time.Millisecond))
			all := append(batch, later)
			seen := map[string]bool{}
			for i, r := range all {
				if _, err := ulid.ParseStrict(r.ID); err != nil {
					t.Fatalf("run id %q is not a ULID: %v", r.ID, err)
				}
				if seen[r.ID] {
					t.Fatalf("run id %s assigned twice", r.ID)
				}
				seen[r.ID] = true
				if i > 0 && r.ID <= all[i-1].ID {
					t.Fatalf("run ids do not sort by creation: %s after %s", r.ID, all[i-1].ID)
				}
			}
		},
		"InsertKeepsGivenID": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := manualRun(j, t0)
			r.ID = ulid.Make().String()
			want := r.ID
			insertRuns(t, s, r)
			if r.ID != want {
				t.Fatalf("RunInsert replaced the given id %s with %s", want, r.ID)
			}
			getRun(t, s, want)
			dup := manualRun(j, t0)
			dup.ID = want
			requireKind(t, s.RunInsert(t.Context(), []*connecthub.Run{dup}), connecthub.KindConflict)
		},
		"InsertMissingJob": func(t *testing.T, s store.Store) {
			requireKind(t, s.RunInsert(t.Context(), []*connecthub.Run{manualRun(testJob("ghost"), t0)}), connecthub.KindNotFound)
		},
		"InsertIsAllOrNothing": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			err := s.RunInsert(t.Context(), []*connecthub.Run{manualRun(j, t0), manualRun(testJob("ghost"), t0)})
			requireKind(t, err, connecthub.KindNotFound)
			if runs := jobRuns(t, s, "j"); len(runs) != 0 {
				t.Errorf("a failed batch inserted %v", ids(runs))
			}
		},
		"InsertBadRun": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			for name, mutate := range map[string]func(*connecthub.Run){
				"status":  func(r *connecthub.Run) { r.Status = "LOST" },
				"trigger": func(r *connecthub.Run) { r.Trigger = "magic" },
				"job":     func(r *connecthub.Run) { r.JobID = "" },
			} {
				r := manualRun(j, t0)
				mutate(r)
				if err := s.RunInsert(t.Context(), []*connecthub.Run{r}); !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("%s: RunInsert = %v, want an invalid error", name, err)
				}
			}
		},
		"InsertLargeBatch": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			batch := make([]*connecthub.Run, 1234)
			for i := range batch {
				batch[i] = manualRun(j, t0.Add(time.Duration(i)*time.Millisecond))
			}
			insertRuns(t, s, batch...)
			n, err := s.RunActiveCount(t.Context(), "j")
			if err != nil || n != len(batch) {
				t.Fatalf("RunActiveCount = %d, %v; want %d", n, err, len(batch))
			}
		},
		"GetRoundTrip": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) {
				j.PublicCfg = json.RawMessage(`{"a": 1, "nested": {"b": [1, 2]}}`)
				j.SecretKeys = []string{"password", "user"}
				j.Queue = "integrations"
				j.Priority = 42
			})
			want := connecthub.NewRun(j, connecthub.TriggerAPI, t0.Add(-time.Minute).In(shanghai), t0.In(shanghai), "alice")
			want.AvailableAt = t0.Add(time.Minute)
			insertRuns(t, s, want)
			got := getRun(t, s, want.ID)
			checkRun(t, want, got)
			if got.LogSize != 0 || got.CancelRequested || got.Node != "" {
				t.Errorf("new run has log_size=%d cancel=%v node=%q", got.LogSize, got.CancelRequested, got.Node)
			}
			if got.StartedAt != nil || got.FinishedAt != nil || got.LeaseExpiresAt != nil || got.Duration != nil {
				t.Errorf("new run has started/finished/lease/duration %v/%v/%v/%v", got.StartedAt, got.FinishedAt, got.LeaseExpiresAt, got.Duration)
			}
		},
		"GetNotFound": func(t *testing.T, s store.Store) {
			_, err := s.RunGet(t.Context(), ulid.Make().String())
			requireKind(t, err, connecthub.KindNotFound)
		},
		"SecretOnlyThroughRunSecret": func(t *testing.T, s store.Store) {
			const token = "gAAAAABsecret-token-value"
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.SecretCfg = token })
			r := queuedRun(t, s, j, t0)
			got := getRun(t, s, r.ID)
			if got.Snapshot.SecretCfg != "" {
				t.Errorf("RunGet returned the secret token")
			}
			if !got.Snapshot.HasSecret || len(got.Snapshot.SecretKeys) == 0 {
				t.Errorf("snapshot lost has_secret/secret_keys: %+v", got.Snapshot)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), token) {
				t.Errorf("the run's JSON contains the secret token: %s", b)
			}
			list, _, err := s.RunList(t.Context(), store.RunListParams{})
			if err != nil || len(list) != 1 || list[0].Snapshot.SecretCfg != "" {
				t.Errorf("RunList returned the secret token (or failed: %v)", err)
			}
			secret, err := s.RunSecret(t.Context(), r.ID)
			if err != nil || secret != token {
				t.Fatalf("RunSecret = %q, %v; want the token", secret, err)
			}
			// A retry repeats the snapshot, secret included.
			retry := connecthub.RetryRun(got, t0.Add(time.Minute), "bob")
			retry.Snapshot.SecretCfg = secret
			insertRuns(t, s, retry)
			if secret, err := s.RunSecret(t.Context(), retry.ID); err != nil || secret != token {
				t.Errorf("RunSecret(retry) = %q, %v; want the token", secret, err)
			}
			rr := getRun(t, s, retry.ID)
			if rr.Trigger != connecthub.TriggerRetry || rr.Snapshot.Meta.RetryOf != r.ID || rr.Snapshot.Meta.RequestedBy != "bob" {
				t.Errorf("retry run trigger=%s meta=%+v", rr.Trigger, rr.Snapshot.Meta)
			}
		},
		"SecretEmptyAndMissing": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.SecretCfg = ""; j.HasSecret = false; j.SecretKeys = nil })
			r := queuedRun(t, s, j, t0)
			if secret, err := s.RunSecret(t.Context(), r.ID); err != nil || secret != "" {
				t.Errorf("RunSecret of a run without secrets = %q, %v", secret, err)
			}
			_, err := s.RunSecret(t.Context(), ulid.Make().String())
			requireKind(t, err, connecthub.KindNotFound)
		},
		"ListNewestFirstWithPages": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			var want []string
			for i := range 5 {
				want = append(want, queuedRun(t, s, j, t0.Add(time.Duration(i)*time.Second)).ID)
			}
			slices.Reverse(want)
			var got []string
			cursor := ""
			pages := 0
			for {
				runs, next, err := s.RunList(t.Context(), store.RunListParams{Limit: 2, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				got = append(got, ids(runs)...)
				if next == "" {
					break
				}
				if pages > 5 {
					t.Fatal("RunList does not end")
				}
				cursor = next
			}
			checkStrings(t, "runs", want, got)
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			runs, next, err := s.RunList(t.Context(), store.RunListParams{Limit: 5})
			if err != nil || len(runs) != 5 || next != "" {
				t.Errorf("a page with exactly all runs: %d runs, cursor %q, %v; want 5 and no cursor", len(runs), next, err)
			}
		},
		"ListDefaultAndBadLimit": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			batch := make([]*connecthub.Run, 51)
			for i := range batch {
				batch[i] = manualRun(j, t0.Add(time.Duration(i)*time.Millisecond))
			}
			insertRuns(t, s, batch...)
			runs, next, err := s.RunList(t.Context(), store.RunListParams{})
			if err != nil || len(runs) != 50 || next == "" {
				t.Fatalf("default page: %d runs, cursor %q, %v; want 50 and a cursor", len(runs), next, err)
			}
			for _, limit := range []int{-1, 501} {
				_, _, err := s.RunList(t.Context(), store.RunListParams{Limit: limit})
				requireKind(t, err, connecthub.KindInvalid)
			}
		},
		"ListFilters": func(t *testing.T, s store.Store) {
			a := newJob(t, s, "a")
			b := newJob(t, s, "b")
			at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
			a0 := queuedRun(t, s, a, at(0))
			a1 := insertRuns(t, s, connecthub.NewRun(a, connecthub.TriggerCron, at(1), at(1), ""))[0]
			b2 := queuedRun(t, s, b, at(2))
			a3 := queuedRun(t, s, a, at(3))
			running := claim(t, s, store.RunClaimParams{Max: 1, Now: at(4)}) // claims a0
			if len(running) != 1 || running[0].ID != a0.ID {
				t.Fatalf("claimed %v, want %s", ids(running), a0.ID)
			}
			if _, err := s.RunCancel(t.Context(), a3.ID, at(4)); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name string
				p    store.RunListParams
				want []*connecthub.Run
			}{
				{"all", store.RunListParams{}, []*connecthub.Run{a3, b2, a1, a0}},
				{"job", store.RunListParams{JobID: "a"}, []*connecthub.Run{a3, a1, a0}},
				{"one status", store.RunListParams{Status: []connecthub.RunStatus{connecthub.StatusQueued}}, []*connecthub.Run{b2, a1}},
				{"statuses", store.RunListParams{Status: []connecthub.RunStatus{connecthub.StatusRunning, connecthub.StatusCanceled}}, []*connecthub.Run{a3, a0}},
				{"trigger", store.RunListParams{Trigger: connecthub.TriggerCron}, []*connecthub.Run{a1}},
				{"since", store.RunListParams{Since: ptr(at(2))}, []*connecthub.Run{a3, b2}},
				{"until", store.RunListParams{Until: ptr(at(2))}, []*connecthub.Run{a1, a0}},
				{"since and until", store.RunListParams{Since: ptr(at(1)), Until: ptr(at(3).In(shanghai))}, []*connecthub.Run{b2, a1}},
				{"job and status", store.RunListParams{JobID: "a", Status: []connecthub.RunStatus{connecthub.StatusQueued}}, []*connecthub.Run{a1}},
				{"no match", store.RunListParams{JobID: "b", Trigger: connecthub.TriggerCron}, nil},
				{"unknown job", store.RunListParams{JobID: "zzz"}, nil},
			}
			for _, tt := range tests {
				got, next, err := s.RunList(t.Context(), tt.p)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				checkStrings(t, tt.name, ids(tt.want), ids(got))
				if next != "" {
					t.Errorf("%s: cursor %q, want none", tt.name, next)
				}
			}
			_, _, err := s.RunList(t.Context(), store.RunListParams{Status: []connecthub.RunStatus{"LOST"}})
			requireKind(t, err, connecthub.KindInvalid)
			_, _, err = s.RunList(t.Context(), store.RunListParams{Trigger: "magic"})
			requireKind(t, err, connecthub.KindInvalid)
		},
		"ListPagesWithFilter": func(t *testing.T, s store.Store) {
			a := newJob(t, s, "a")
			b := newJob(t, s, "b")
			var want []string
			for i := range 7 {
				want = append(want, queuedRun(t, s, a, t0.Add(time.Duration(i)*time.Second)).ID)
				queuedRun(t, s, b, t0.Add(time.Duration(i)*time.Second))
			}
			slices.Reverse(want)
			var got []string
			for cursor := ""; ; {
				runs, next, err := s.RunList(t.Context(), store.RunListParams{JobID: "a", Limit: 3, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(runs)...)
				if next == "" || len(got) > 20 {
					break
				}
				cursor = next
			}
			checkStrings(t, "job a's runs", want, got)
		},
		"ActiveCount": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			other := newJob(t, s, "other")
			queuedRun(t, s, j, t0)
			runningRun(t, s, j, node1, t0)
			done := runningRun(t, s, j, node1, t0)
			complete(t, s, store.RunOutcome{ID: done.ID, Node: node1, Status: connecthub.StatusFailure, Now: t0})
			queuedRun(t, s, other, t0)
			for job, want := range map[string]int{"j": 2, "other": 1, "ghost": 0} {
				n, err := s.RunActiveCount(t.Context(), job)
				if err != nil || n != want {
					t.Errorf("RunActiveCount(%s) = %d, %v; want %d", job, n, err, want)
				}
			}
		},
		"DeleteFinished": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			other := newJob(t, s, "other")
			queued := queuedRun(t, s, j, t0)
			running := runningRun(t, s, j, node1, t0)
			var finished []string
			for _, st := range []connecthub.RunStatus{connecthub.StatusSuccess, connecthub.StatusFailure, connecthub.StatusCanceled} {
				r := runningRun(t, s, j, node1, t0)
				complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: st, Now: t0})
				finished = append(finished, r.ID)
			}
			canceled := queuedRun(t, s, j, t0)
			if _, err := s.RunCancel(t.Context(), canceled.ID, t0); err != nil {
				t.Fatal(err)
			}
			skipped := manualRun(j, t0)
			skipped.Status = connecthub.StatusSkipped
			insertRuns(t, s, skipped)
			otherDone := runningRun(t, s, other, node1, t0)
			complete(t, s, store.RunOutcome{ID: otherDone.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0})

			n, err := s.RunDeleteFinished(t.Context(), "j")
			if err != nil || n != 5 {
				t.Fatalf("RunDeleteFinished = %d, %v; want 5", n, err)
			}
			left := ids(jobRuns(t, s, "j"))
			slices.Sort(left)
			want := []string{queued.ID, running.ID}
			slices.Sort(want)
			checkStrings(t, "runs left", want, left)
			checkStatus(t, s, otherDone.ID, connecthub.StatusSuccess)
			if n, err := s.RunDeleteFinished(t.Context(), "j"); err != nil || n != 0 {
				t.Errorf("second RunDeleteFinished = %d, %v; want 0", n, err)
			}
			_, err = s.RunDeleteFinished(t.Context(), "ghost")
			requireKind(t, err, connecthub.KindNotFound)
			getJob(t, s, "j")
		},
	})
}

// checkRun compares a run as inserted with the run read back.
func checkRun(t *testing.T, want, got *connecthub.Run) {
	t.Helper()
	if got == nil {
		t.Fatalf("run %s is nil", want.ID)
	}
	type plain struct {
		ID, JobID, Queue, Node, Message, Error, Traceback string
		Status                                            connecthub.RunStatus
		Trigger                                           connecthub.Trigger
		Priority, Attempt, MaxAttempts                    int
	}
	w := plain{want.ID, want.JobID, want.Queue, want.Node, want.Message, want.Error, want.Traceback, want.Status, want.Trigger, want.Priority, want.Attempt, want.MaxAttempts}
	g := plain{got.ID, got.JobID, got.Queue, got.Node, got.Message, got.Error, got.Traceback, got.Status, got.Trigger, got.Priority, got.Attempt, got.MaxAttempts}
	if w != g {
		t.Errorf("run %s:\n got %+v\nwant %+v", want.ID, g, w)
	}
	checkTime(t, "scheduled_for", want.ScheduledFor, got.ScheduledFor)
	checkTime(t, "available_at", want.AvailableAt, got.AvailableAt)
	checkTime(t, "created_at", want.CreatedAt, got.CreatedAt)
	checkTime(t, "updated_at", want.UpdatedAt, got.UpdatedAt)
	checkSnapshot(t, want.Snapshot, got.Snapshot)
	if len(got.Attempts) != len(want.Attempts) {
		t.Errorf("attempts = %+v, want %+v", got.Attempts, want.Attempts)
	}
	checkJSON(t, "result", want.Result, got.Result)
	checkJSON(t, "meta", want.Meta, got.Meta)
}

func checkSnapshot(t *testing.T, want, got connecthub.Snapshot) {
	t.Helper()
	if got.Handler != want.Handler || got.HasSecret != want.HasSecret || got.Timeout != want.Timeout ||
		got.MaxAttempts != want.MaxAttempts || got.RetryBackoff != want.RetryBackoff {
		t.Errorf("snapshot:\n got %+v\nwant %+v", got, want)
	}
	checkJSON(t, "snapshot.public_cfg", want.PublicCfg, got.PublicCfg)
	checkStrings(t, "snapshot.secret_keys", want.SecretKeys, got.SecretKeys)
	wm, gm := want.Meta, got.Meta
	if gm.Trigger != wm.Trigger || gm.RetryOf != wm.RetryOf || gm.RequestedBy != wm.RequestedBy {
		t.Errorf("snapshot meta = %+v, want %+v", gm, wm)
	}
	checkTime(t, "snapshot.meta.scheduled_for", wm.ScheduledFor, gm.ScheduledFor)
}
