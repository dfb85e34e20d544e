package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// exerciseAlertBatches checks the alert events of the queue's set-based
// statements: a claim or a heartbeat of many runs records none, one
// completion that ends many runs records one per run, in run id order, and
// a rescue that fails a run records both its end and its lost worker. A
// driver may record the events per row or per statement; the alerts must
// be the same.
func exerciseAlertBatches(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"OneCompletionEndsMany": func(t *testing.T, s store.Store) {
			createChannel(t, s, "ops")
			createRule(t, s, connecthub.EventFailure, "3", 0)
			j := newJob(t, s, "batch")
			runs := insertRuns(t, s, manualRun(j, t0), manualRun(j, t0), manualRun(j, t0))
			claimed := claim(t, s, store.RunClaimParams{Now: t0, Max: 3})
			if len(claimed) != 3 {
				t.Fatalf("claimed %d runs, want 3", len(claimed))
			}
			hb, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: node1, IDs: ids(claimed), Now: t0.Add(time.Second), LeaseTTL: ttl})
			if err != nil || len(hb.Lost) != 0 {
				t.Fatalf("RunHeartbeat = %+v, %v", hb, err)
			}
			if pending, err := s.AlertPending(t.Context()); err != nil || pending {
				t.Fatalf("a claim and a heartbeat recorded alert events: %v, %v", pending, err)
			}
			now := t0.Add(time.Minute)
			var outcomes []store.RunOutcome
			for _, r := range claimed {
				outcomes = append(outcomes, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusFailure, Error: "boom", Now: now, Attempt: r.Attempt})
			}
			if applied := complete(t, s, outcomes...); slices.Contains(applied, false) {
				t.Fatalf("RunComplete applied %v", applied)
			}
			process(t, s, now)
			got := outbox(t, s, connecthub.EventFailure)
			last := slices.Max(ids(runs))
			if len(got) != 1 || got[0].RunID != last || got[0].Alert.Failures != 3 {
				t.Fatalf("three failures ended by one completion, threshold 3: want one alert for %s (the last in id order) with 3 failures, got %+v", last, got)
			}
			if pending, _ := s.AlertPending(t.Context()); pending {
				t.Fatalf("AlertProcess left events behind")
			}
		},
		"RescueFailsARun": func(t *testing.T, s store.Store) {
			createChannel(t, s, "ops")
			createRule(t, s, connecthub.EventFailure, "", 0)
			createRule(t, s, connecthub.EventWorkerLost, "", 0)
			j := newJob(t, s, "once", func(j *connecthub.Job) { j.MaxAttempts = 1 })
			r := runningRun(t, s, j, node1, t0)
			now := t0.Add(ttl + time.Minute)
			rescued, err := s.RunRescue(t.Context(), now, 10)
			if err != nil || len(rescued) != 1 || rescued[0].Status != connecthub.StatusFailure {
				t.Fatalf("RunRescue = %v, %v; want the run FAILURE", rescued, err)
			}
			process(t, s, now)
			lost, failed := outbox(t, s, connecthub.EventWorkerLost), outbox(t, s, connecthub.EventFailure)
			if len(lost) != 1 || lost[0].RunID != r.ID || len(failed) != 1 || failed[0].RunID != r.ID {
				t.Fatalf("a rescue that fails the run: want one worker_lost and one failure alert for %s, got %+v and %+v", r.ID, lost, failed)
			}
		},
	})
}
