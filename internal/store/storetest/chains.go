package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// chained returns an option that sets a job's chain lists.
func chained(onSuccess, onFailure []string) func(*connecthub.Job) {
	return func(j *connecthub.Job) { j.OnSuccess, j.OnFailure = onSuccess, onFailure }
}

// children returns the runs that parent's end started, failing on error.
func children(t *testing.T, s store.Store, parent string) []*connecthub.Run {
	t.Helper()
	runs, err := s.RunChainChildren(t.Context(), parent)
	if err != nil {
		t.Fatalf("RunChainChildren(%s): %v", parent, err)
	}
	return runs
}

// childJobs returns the job ids of runs.
func childJobs(runs []*connecthub.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.JobID
	}
	return out
}

// requireCode fails unless err is a *connecthub.Error of kind with code,
// whose text contains each of parts.
// isCode reports whether err is a *connecthub.Error of kind and code.
func isCode(err error, kind connecthub.Kind, code string) bool {
	var e *connecthub.Error
	return errors.As(err, &e) && e.Kind == kind && e.Code == code
}

func requireCode(t *testing.T, err error, kind connecthub.Kind, code string, parts ...string) {
	t.Helper()
	var e *connecthub.Error
	if !errors.As(err, &e) || e.Kind != kind || e.Code != code {
		t.Fatalf("err = %v, want %s %s", err, kind, code)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %q", err, p)
		}
	}
}

// checkChild checks a run that parent's end started.
func checkChild(t *testing.T, r *connecthub.Run, parent *connecthub.Run, status connecthub.RunStatus, result string) {
	t.Helper()
	if r.Trigger != connecthub.TriggerChain || r.Snapshot.Meta.Trigger != connecthub.TriggerChain {
		t.Errorf("run %s trigger %s/%s, want chain", r.ID, r.Trigger, r.Snapshot.Meta.Trigger)
	}
	meta, err := connecthub.DecodeRunMeta(r.Meta)
	if err != nil || meta.ParentRun != parent.ID {
		t.Errorf("run %s meta %s (%v), want parent_run %s", r.ID, r.Meta, err, parent.ID)
	}
	up := r.Snapshot.Meta.Upstream
	if up == nil || up.RunID != parent.ID || up.JobID != parent.JobID || up.Status != status {
		t.Fatalf("run %s upstream %+v, want run %s of %s %s", r.ID, up, parent.ID, parent.JobID, status)
	}
	if result != "" {
		checkJSON(t, "upstream result", json.RawMessage(result), up.Result)
	}
}

func exerciseChains(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"JobRoundTrip": func(t *testing.T, s store.Store) {
			newJob(t, s, "b")
			newJob(t, s, "c")
			newJob(t, s, "a", chained([]string{"b", "c"}, []string{"c"}))
			a := getJob(t, s, "a")
			checkStrings(t, "on_success", []string{"b", "c"}, a.OnSuccess)
			checkStrings(t, "on_failure", []string{"c"}, a.OnFailure)
			if b := getJob(t, s, "b"); b.OnSuccess == nil || b.OnFailure == nil || len(b.OnSuccess)+len(b.OnFailure) != 0 {
				t.Errorf("job without chains reads %v %v, want empty lists", b.OnSuccess, b.OnFailure)
			}
			up, err := s.JobUpstream(t.Context(), "c")
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "upstream of c", []string{"a"}, up)
			if up, err := s.JobUpstream(t.Context(), "nope"); err != nil || up == nil || len(up) != 0 {
				t.Errorf("JobUpstream(nope) = %v, %v; want an empty list", up, err)
			}
			// Dropping the lists through JobUpdate is stored too.
			if _, err := s.JobUpdate(t.Context(), "a", func(j *connecthub.Job) error {
				j.OnSuccess, j.OnFailure = nil, []string{}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if a := getJob(t, s, "a"); len(a.OnSuccess)+len(a.OnFailure) != 0 {
				t.Errorf("after clearing: %v %v", a.OnSuccess, a.OnFailure)
			}
		},
		"UnknownAndCycleRefused": func(t *testing.T, s store.Store) {
			err := s.JobCreate(t.Context(), testJob2("x", chained(nil, []string{"ghost"})))
			requireCode(t, err, connecthub.KindInvalid, "unknown_job", "on_failure", `"ghost"`)
			err = s.JobCreate(t.Context(), testJob2("self", chained([]string{"self"}, nil)))
			requireCode(t, err, connecthub.KindInvalid, "chain_cycle", "on_success", "self → self")

			newJob(t, s, "c")
			newJob(t, s, "b", chained(nil, []string{"c"}))
			newJob(t, s, "a", chained([]string{"b"}, nil))
			_, err = s.JobUpdate(t.Context(), "c", func(j *connecthub.Job) error {
				j.OnSuccess = []string{"a"}
				return nil
			})
			requireCode(t, err, connecthub.KindInvalid, "chain_cycle", "on_success", "c → a → b → c")
			if c := getJob(t, s, "c"); len(c.OnSuccess) != 0 {
				t.Errorf("refused update was written: %v", c.OnSuccess)
			}
			_, err = s.JobUpdate(t.Context(), "b", func(j *connecthub.Job) error {
				j.OnSuccess = []string{"b"}
				return nil
			})
			requireCode(t, err, connecthub.KindInvalid, "chain_cycle", "b → b")
			if _, err := s.JobGet(t.Context(), "x"); !connecthub.IsKind(err, connecthub.KindNotFound) {
				t.Errorf("refused create was written: %v", err)
			}
		},
		"DeleteOfChainedJobRefused": func(t *testing.T, s store.Store) {
			newJob(t, s, "b")
			newJob(t, s, "a1", chained([]string{"b"}, nil))
			newJob(t, s, "a2", chained(nil, []string{"b"}))
			requireCode(t, s.JobDelete(t.Context(), "b"), connecthub.KindConflict, "job_chained", `"a1"`, `"a2"`)
			getJob(t, s, "b")
			// The upstream jobs themselves may go, and then b may too.
			for _, id := range []string{"a1", "a2", "b"} {
				if err := s.JobDelete(t.Context(), id); err != nil {
					t.Fatalf("JobDelete(%s): %v", id, err)
				}
			}
		},
		"SuccessStartsOnSuccess": func(t *testing.T, s store.Store) {
			newJob(t, s, "d1")
			newJob(t, s, "d2")
			newJob(t, s, "f")
			up := newJob(t, s, "up", chained([]string{"d1", "d2"}, []string{"f"}))
			parent := runningRun(t, s, up, node1, t0)
			runs := subscribe(t, s, store.TopicRuns)
			o := success(parent, node1, t0.Add(time.Second))
			o.Result = json.RawMessage(`{"token":"t-1"}`)
			if applied := complete(t, s, o); !applied[0] {
				t.Fatal("completion not applied")
			}
			waitNotified(t, runs, "a chained run was queued")
			got := children(t, s, parent.ID)
			checkStrings(t, "started jobs", []string{"d1", "d2"}, childJobs(got))
			for _, r := range got {
				checkChild(t, r, parent, connecthub.StatusSuccess, `{"token":"t-1"}`)
				if r.Status != connecthub.StatusQueued || r.Snapshot.Handler != "noop" || r.Queue != connecthub.DefaultQueue {
					t.Errorf("run %s: %s %s %s", r.ID, r.Status, r.Snapshot.Handler, r.Queue)
				}
				checkTime(t, "created_at", t0.Add(time.Second), r.CreatedAt)
			}
			// The chained run is claimable with its job's secrets, and its
			// upstream reaches the worker with the claim.
			held := claim(t, s, store.RunClaimParams{Now: t0.Add(2 * time.Second)})
			if len(held) != 2 || held[0].Snapshot.SecretCfg == "" || held[0].Snapshot.Meta.Upstream == nil {
				t.Fatalf("claimed %d chained runs, first %+v", len(held), held[0].Snapshot)
			}
			// A stale repeat of the outcome starts nothing more.
			if applied := complete(t, s, o); applied[0] {
				t.Error("repeated completion applied")
			}
			if n := len(children(t, s, parent.ID)); n != 2 {
				t.Errorf("%d chained runs after a repeat, want 2", n)
			}
		},
		"FailureAfterLastAttemptStartsOnFailure": func(t *testing.T, s store.Store) {
			newJob(t, s, "ok")
			newJob(t, s, "alarm")
			up := newJob(t, s, "up", chained([]string{"ok"}, []string{"alarm"}), func(j *connecthub.Job) { j.MaxAttempts = 2 })
			parent := runningRun(t, s, up, node1, t0)
			retry := store.RunOutcome{ID: parent.ID, Node: node1, Status: connecthub.StatusQueued, ConsumeAttempt: true,
				Error: "flaky", Now: t0.Add(time.Second), Attempt: 1}
			complete(t, s, retry)
			checkStatus(t, s, parent.ID, connecthub.StatusQueued)
			if got := children(t, s, parent.ID); len(got) != 0 {
				t.Fatalf("a retried failure started %v", childJobs(got))
			}
			again := claim(t, s, store.RunClaimParams{Queues: []string{parent.Queue}, Now: t0.Add(2 * time.Second)})
			if len(again) != 1 || again[0].Attempt != 2 {
				t.Fatalf("second attempt: %v", again)
			}
			last := retry
			last.Attempt, last.Error, last.Now = 2, "still down", t0.Add(3*time.Second)
			complete(t, s, last) // a retry asked on the last attempt ends it FAILURE
			checkStatus(t, s, parent.ID, connecthub.StatusFailure)
			got := children(t, s, parent.ID)
			checkStrings(t, "started jobs", []string{"alarm"}, childJobs(got))
			checkChild(t, got[0], parent, connecthub.StatusFailure, "")
			if got[0].Snapshot.Meta.Upstream.Error != "still down" {
				t.Errorf("upstream error %q", got[0].Snapshot.Meta.Upstream.Error)
			}
		},
		"CanceledStartsNothing": func(t *testing.T, s store.Store) {
			newJob(t, s, "d")
			up := newJob(t, s, "up", chained([]string{"d"}, []string{"d"}))
			parent := runningRun(t, s, up, node1, t0)
			o := success(parent, node1, t0.Add(time.Second))
			o.Status = connecthub.StatusCanceled
			complete(t, s, o)
			if got := children(t, s, parent.ID); len(got) != 0 {
				t.Errorf("a canceled run started %v", childJobs(got))
			}
		},
		"DisabledNotStartedBusySkipped": func(t *testing.T, s store.Store) {
			newJob(t, s, "off", func(j *connecthub.Job) { j.Enabled = false })
			busy := newJob(t, s, "busy", func(j *connecthub.Job) { j.Concurrency = connecthub.ConcurrencyForbid })
			queuedRun(t, s, busy, t0)
			up := newJob(t, s, "up", chained([]string{"off", "busy"}, nil))
			parent := runningRun(t, s, up, node1, t0)
			before, err := s.Stats(t.Context(), t0.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			complete(t, s, success(parent, node1, t0.Add(time.Second)))
			got := children(t, s, parent.ID)
			checkStrings(t, "started jobs", []string{"busy"}, childJobs(got))
			if got[0].Status != connecthub.StatusSkipped || got[0].FinishedAt == nil || got[0].Message != store.SkippedMessage {
				t.Errorf("busy forbid job's chained run: %s %v %q", got[0].Status, got[0].FinishedAt, got[0].Message)
			}
			after, err := s.Stats(t.Context(), t0.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if d := after.Runs[connecthub.StatusSkipped] - before.Runs[connecthub.StatusSkipped]; d != 1 {
				t.Errorf("stats count %d more SKIPPED runs, want 1", d)
			}
		},
		"ReplaceCancelsActive": func(t *testing.T, s store.Store) {
			d := newJob(t, s, "d", func(j *connecthub.Job) { j.Concurrency = connecthub.ConcurrencyReplace })
			old := queuedRun(t, s, d, t0)
			up := newJob(t, s, "up", chained([]string{"d"}, nil))
			parent := runningRun(t, s, up, node1, t0)
			complete(t, s, success(parent, node1, t0.Add(time.Second)))
			checkStatus(t, s, old.ID, connecthub.StatusCanceled)
			got := children(t, s, parent.ID)
			if len(got) != 1 || got[0].Status != connecthub.StatusQueued {
				t.Fatalf("replace: chained runs %v", got)
			}
		},
		"CompleteAndClaimStartsOnce": func(t *testing.T, s store.Store) {
			cc := completeClaimer(t, s)
			newJob(t, s, "d")
			up := newJob(t, s, "up", chained([]string{"d"}, nil))
			parent := runningRun(t, s, up, node1, t0)
			o := success(parent, node1, t0.Add(time.Second))
			applied, claimed := completeAndClaim(t, cc, []store.RunOutcome{o}, store.RunClaimParams{Now: t0.Add(time.Second)})
			if !applied[0] {
				t.Fatal("not applied")
			}
			got := children(t, s, parent.ID)
			checkStrings(t, "started jobs", []string{"d"}, childJobs(got))
			checkChild(t, got[0], parent, connecthub.StatusSuccess, "")
			// Whether or not the same call claimed it, there is one run.
			if len(claimed) > 1 {
				t.Errorf("claimed %d runs", len(claimed))
			}
			applied, _ = completeAndClaim(t, cc, []store.RunOutcome{o}, store.RunClaimParams{Now: t0.Add(2 * time.Second)})
			if applied[0] {
				t.Error("repeat applied")
			}
			if n := len(children(t, s, parent.ID)); n != 1 {
				t.Errorf("%d chained runs, want exactly 1", n)
			}
		},
		"FailedInsertRollsBackCompletion": func(t *testing.T, s store.Store) {
			d := newJob(t, s, "d")
			up := newJob(t, s, "up", chained([]string{"d"}, nil))
			parent := runningRun(t, s, up, node1, t0)
			// A run that claims to be d's chained run of parent already:
			// the completion's insert collides with it.
			squatter, err := connecthub.NewChainRun(d, &connecthub.Upstream{RunID: parent.ID, JobID: up.ID, Status: connecthub.StatusSuccess}, t0)
			if err != nil {
				t.Fatal(err)
			}
			insertRuns(t, s, squatter)
			if _, err := s.RunComplete(t.Context(), []store.RunOutcome{success(parent, node1, t0.Add(time.Second))}); err == nil {
				t.Fatal("completion whose chained insert failed succeeded")
			}
			if r := checkStatus(t, s, parent.ID, connecthub.StatusRunning); r.FinishedAt != nil {
				t.Errorf("parent finished_at %v after a rolled back completion", r.FinishedAt)
			}
			if cc, ok := s.(store.RunCompleteClaimer); ok {
				if _, _, err := cc.RunCompleteAndClaim(t.Context(), []store.RunOutcome{success(parent, node1, t0.Add(time.Second))},
					claimDefaults(store.RunClaimParams{Now: t0.Add(time.Second)})); err == nil {
					t.Fatal("combined completion whose chained insert failed succeeded")
				}
				checkStatus(t, s, parent.ID, connecthub.StatusRunning)
			}
		},
		"RescueFailureStartsOnFailure": func(t *testing.T, s store.Store) {
			newJob(t, s, "alarm")
			up := newJob(t, s, "up", chained(nil, []string{"alarm"}), func(j *connecthub.Job) { j.MaxAttempts = 1 })
			parent := runningRun(t, s, up, node1, t0)
			if _, err := s.RunRescue(t.Context(), t0.Add(ttl+time.Second), 10); err != nil {
				t.Fatal(err)
			}
			checkStatus(t, s, parent.ID, connecthub.StatusFailure)
			got := children(t, s, parent.ID)
			checkStrings(t, "started jobs", []string{"alarm"}, childJobs(got))
			if e := got[0].Snapshot.Meta.Upstream.Error; e != connecthub.ReasonWorkerLost {
				t.Errorf("upstream error %q, want %q", e, connecthub.ReasonWorkerLost)
			}
		},
	})
}

// testJob2 is testJob with options, not stored.
func testJob2(id string, opts ...func(*connecthub.Job)) *connecthub.Job {
	j := testJob(id)
	for _, o := range opts {
		o(j)
	}
	return j
}
