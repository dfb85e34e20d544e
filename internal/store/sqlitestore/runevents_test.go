package sqlitestore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// TestAlertEventPaths runs each of the driver's paths that change a run's
// status on runs in the state it applies to, and checks the alert events
// recorded: what the alert trigger recorded before migration 25
// (worker_lost when a RUNNING run is re-queued or ends FAILURE with error
// "worker lost", then run_end when it ends SUCCESS or FAILURE), in the
// order the runs were changed, and only the kinds an enabled rule wants.
// A batched completion changes its runs in id order (the runs table's
// order), whatever the outcomes' order: the trigger recorded them so, and
// so does RETURNING, which runEvents follows.
func TestAlertEventPaths(t *testing.T) {
	t.Parallel()
	lost := connecthub.ReasonWorkerLost
	outcome := func(id string, st connecthub.RunStatus, errText string) store.RunOutcome {
		return store.RunOutcome{ID: id, Node: "n", Status: st, Error: errText, Now: t0}
	}
	complete := func(outcomes ...func(ids []string) store.RunOutcome) func(context.Context, *Store, []string) error {
		return func(ctx context.Context, s *Store, ids []string) error {
			var os []store.RunOutcome
			for _, o := range outcomes {
				os = append(os, o(ids))
			}
			_, err := s.RunComplete(ctx, os)
			return err
		}
	}
	out := func(i int, st connecthub.RunStatus, errText string, consume bool) func(ids []string) store.RunOutcome {
		return func(ids []string) store.RunOutcome {
			o := outcome(ids[i], st, errText)
			o.ConsumeAttempt = consume
			return o
		}
	}
	rescue := func(ctx context.Context, s *Store, _ []string) error {
		_, err := s.RunRescue(ctx, t0.Add(time.Hour), 100)
		return err
	}
	type run struct {
		status  connecthub.RunStatus
		errText string
		max     int  // max attempts
		cancel  bool // cancel requested
	}
	running := run{status: connecthub.StatusRunning, max: 1}
	tests := []struct {
		name  string
		rules []string // the events of the enabled rules
		runs  []run
		do    func(context.Context, *Store, []string) error
		want  []string // kind and index of the run, in seq order
	}{
		{"claim", []string{"failure", "worker_lost"}, []run{{status: connecthub.StatusQueued, errText: lost, max: 1}},
			func(ctx context.Context, s *Store, _ []string) error {
				_, err := s.RunClaim(ctx, store.RunClaimParams{Node: "n", Queues: []string{connecthub.DefaultQueue}, Max: 1, LeaseTTL: time.Minute, Now: t0})
				return err
			}, nil},
		{"success", []string{"failure", "worker_lost"}, []run{running},
			complete(out(0, connecthub.StatusSuccess, "", false)), []string{"run_end 0"}},
		{"failure, worker lost", []string{"failure", "worker_lost"}, []run{running},
			complete(out(0, connecthub.StatusFailure, lost, false)), []string{"worker_lost 0", "run_end 0"}},
		{"batch in order", []string{"recovery", "worker_lost"}, []run{running, running, running},
			complete(out(2, connecthub.StatusFailure, lost, false), out(0, connecthub.StatusSuccess, "", false), out(1, connecthub.StatusCanceled, lost, false)),
			[]string{"run_end 0", "worker_lost 2", "run_end 2"}},
		{"batch, only worker_lost wanted", []string{"worker_lost"}, []run{running, running},
			complete(out(0, connecthub.StatusFailure, lost, false), out(1, connecthub.StatusSuccess, "", false)),
			[]string{"worker_lost 0"}},
		{"batch, rule disabled", nil, []run{running, running},
			complete(out(0, connecthub.StatusFailure, lost, false), out(1, connecthub.StatusSuccess, "", false)), nil},
		{"stale outcome", []string{"failure"}, []run{{status: connecthub.StatusSuccess}},
			complete(out(0, connecthub.StatusFailure, "boom", false)), nil},
		{"retry, worker lost", []string{"failure", "worker_lost"}, []run{{status: connecthub.StatusRunning, max: 3}},
			complete(out(0, connecthub.StatusQueued, lost, true)), []string{"worker_lost 0"}},
		{"retry", []string{"failure", "worker_lost"}, []run{{status: connecthub.StatusRunning, max: 3}},
			complete(out(0, connecthub.StatusQueued, "boom", true)), nil},
		{"retry on the last attempt", []string{"failure", "worker_lost"}, []run{running},
			complete(out(0, connecthub.StatusQueued, lost, true)), []string{"worker_lost 0", "run_end 0"}},
		{"hand-back", []string{"failure", "worker_lost"}, []run{running},
			complete(out(0, connecthub.StatusQueued, "", false)), nil},
		{"hand-back of a run once lost", []string{"failure", "worker_lost"}, []run{{status: connecthub.StatusRunning, errText: lost, max: 1}},
			complete(out(0, connecthub.StatusQueued, "", false)), []string{"worker_lost 0"}},
		{"hand-back of a canceled run", []string{"failure", "worker_lost"}, []run{{status: connecthub.StatusRunning, max: 1, cancel: true}},
			complete(out(0, connecthub.StatusQueued, lost, false)), nil},
		{"rescue", []string{"failure", "worker_lost"},
			[]run{{status: connecthub.StatusRunning, max: 3}, running, {status: connecthub.StatusRunning, max: 3, cancel: true}},
			rescue, []string{"worker_lost 0", "worker_lost 1", "run_end 1"}},
		{"cancel of a queued run", []string{"failure", "worker_lost"}, []run{{status: connecthub.StatusQueued, errText: lost, max: 1}},
			func(ctx context.Context, s *Store, ids []string) error {
				_, err := s.RunCancel(ctx, ids[0], t0)
				return err
			}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := openTest(t)
			ctx := t.Context()
			job := testJob("j")
			if err := s.JobCreate(ctx, job); err != nil {
				t.Fatal(err)
			}
			for i, ev := range tt.rules {
				if _, err := s.w.ExecContext(ctx, `INSERT INTO alert_rules (id, name, event, created_at, updated_at) VALUES (?, ?, ?, 0, 0)`,
					fmt.Sprintf("rule%d", i), ev, ev); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.w.ExecContext(ctx, `INSERT INTO alert_rules (id, name, event, enabled, created_at, updated_at)
				VALUES ('off', 'off', 'failure', 0, 0, 0), ('off2', 'off2', 'worker_lost', 0, 0, 0)`); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, rr := range tt.runs {
				r := connecthub.NewRun(job, connecthub.TriggerAPI, t0, t0, "")
				r.Status, r.Error, r.MaxAttempts, r.CancelRequested = rr.status, rr.errText, rr.max, rr.cancel
				if r.MaxAttempts == 0 {
					r.MaxAttempts = 1
				}
				switch rr.status {
				case connecthub.StatusRunning:
					start, lease := t0, t0.Add(time.Minute)
					r.Node, r.StartedAt, r.LeaseExpiresAt = "n", &start, &lease
				case connecthub.StatusSuccess:
					end := t0
					r.FinishedAt = &end
				}
				if err := s.RunInsert(ctx, []*connecthub.Run{r}); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, r.ID)
			}
			if err := tt.do(ctx, s, ids); err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				Kind    string `db:"kind"`
				Subject string `db:"subject"`
				At      int64  `db:"created_at"`
			}
			if err := s.w.SelectContext(ctx, &rows, `SELECT kind, subject, created_at FROM alert_events ORDER BY seq`); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%s %d", r.Kind, slices.Index(ids, r.Subject)))
				var updated int64
				if err := s.w.GetContext(ctx, &updated, `SELECT updated_at FROM runs WHERE id = ?`, r.Subject); err != nil {
					t.Fatal(err)
				}
				if r.At != updated {
					t.Errorf("event %s %s at %d, want the run's updated_at %d", r.Kind, r.Subject, r.At, updated)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("recorded %q, want %q", got, tt.want)
			}
		})
	}
}
