package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func exerciseComplete(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"Terminal": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			tests := []store.RunOutcome{
				{Status: connecthub.StatusSuccess, Message: "done: 3 synced", Result: json.RawMessage(`{"synced": 3}`)},
				{Status: connecthub.StatusFailure, Message: "partial", Error: "boom: it broke", Traceback: "goroutine 1 [running]:\nmain.main()"},
				{Status: connecthub.StatusCanceled, Error: connecthub.ReasonCanceled},
			}
			// Once one at a time, once all in one batch.
			for _, batched := range []bool{false, true} {
				outcomes := make([]store.RunOutcome, len(tests))
				for i, o := range tests {
					r := runningRun(t, s, j, node1, t0)
					o.ID, o.Node, o.Now = r.ID, node1, t0.Add(90*time.Second)
					outcomes[i] = o
					if !batched {
						if applied := complete(t, s, o); !applied[0] {
							t.Fatalf("%s outcome not applied", o.Status)
						}
					}
				}
				if batched {
					if applied := complete(t, s, outcomes...); !slices.Equal(applied, []bool{true, true, true}) {
						t.Fatalf("batch applied = %v", applied)
					}
				}
				for _, o := range outcomes {
					got := checkStatus(t, s, o.ID, o.Status)
					if got.Message != o.Message || got.Error != o.Error || got.Traceback != o.Traceback || got.Node != node1 {
						t.Errorf("%s: message=%q error=%q traceback=%q node=%q", o.Status, got.Message, got.Error, got.Traceback, got.Node)
					}
					checkJSON(t, "result", o.Result, got.Result)
					checkTimePtr(t, "finished_at", ptr(o.Now), got.FinishedAt)
					checkTimePtr(t, "started_at", ptr(t0), got.StartedAt)
					if got.Duration == nil || got.Duration.D() != 90*time.Second {
						t.Errorf("%s: duration = %v, want 90s", o.Status, got.Duration)
					}
				}
			}
		},
		"LargeBatch": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			const n = 333
			batch := make([]*connecthub.Run, n)
			for i := range batch {
				batch[i] = manualRun(j, t0)
			}
			insertRuns(t, s, batch...)
			claimed := claim(t, s, store.RunClaimParams{Max: n, Now: t0})
			outcomes := make([]store.RunOutcome, 0, n+1)
			for i, r := range claimed {
				node := node1
				if i%10 == 0 {
					node = node2 // not the holder: must not apply
				}
				outcomes = append(outcomes, store.RunOutcome{ID: r.ID, Node: node, Status: connecthub.StatusSuccess, Message: r.ID, Now: t0})
			}
			outcomes = append(outcomes, store.RunOutcome{ID: "missing", Node: node1, Status: connecthub.StatusSuccess, Now: t0})
			applied := complete(t, s, outcomes...)
			for i, o := range outcomes {
				want := i < n && i%10 != 0
				if applied[i] != want {
					t.Fatalf("outcome %d applied = %v, want %v", i, applied[i], want)
				}
				if i < n {
					got := getRun(t, s, o.ID)
					if want && (got.Status != connecthub.StatusSuccess || got.Message != o.ID) {
						t.Fatalf("run %d: %s %q", i, got.Status, got.Message)
					}
					if !want && got.Status != connecthub.StatusRunning {
						t.Fatalf("run %d held by another node is %s", i, got.Status)
					}
				}
			}
		},
		// Writers at once: the worker's spare writer completes a batch
		// while another is in flight, with heartbeats of the same runs
		// running meanwhile, and an outcome may be sent twice (a retry
		// after an error that hid the commit). No call may fail (a
		// deadlock would), and each run ends once, with the outcome of
		// exactly one of the calls that named it.
		"ConcurrentBatchesAndHeartbeats": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			const n, writers = 240, 3
			batch := make([]*connecthub.Run, n)
			for i := range batch {
				batch[i] = manualRun(j, t0)
			}
			insertRuns(t, s, batch...)
			claimed := claim(t, s, store.RunClaimParams{Max: n, Now: t0})
			if len(claimed) != n {
				t.Fatalf("claimed %d runs, want %d", len(claimed), n)
			}
			all := ids(claimed)
			slices.Sort(all)
			// Writer w completes every run whose index i has i%writers == w
			// and, as a repeat, every run with i%writers == (w+1)%writers,
			// in batches of 40 in id order, as the completer sends them.
			applied := make([][]string, writers)
			errs := make(chan error, writers+1)
			stop := make(chan struct{})
			heartbeats := make(chan struct{})
			go func() {
				defer close(heartbeats)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: node1, IDs: all, LeaseTTL: time.Minute, Now: t0}); err != nil {
						errs <- err
						return
					}
				}
			}()
			done := make(chan int, writers)
			for w := range writers {
				go func() {
					defer func() { done <- w }()
					var mine []store.RunOutcome
					for i, id := range all {
						if i%writers == w || i%writers == (w+1)%writers {
							mine = append(mine, store.RunOutcome{ID: id, Node: node1, Status: connecthub.StatusSuccess, Message: fmt.Sprint("writer ", w), Now: t0})
						}
					}
					for chunk := range slices.Chunk(mine, 40) {
						got, err := s.RunComplete(t.Context(), chunk)
						if err != nil {
							errs <- err
							return
						}
						for i, ok := range got {
							if ok {
								applied[w] = append(applied[w], chunk[i].ID)
							}
						}
					}
				}()
			}
			for range writers {
				<-done
			}
			close(stop)
			<-heartbeats
			close(errs)
			for err := range errs {
				t.Fatalf("a concurrent call failed: %v", err)
			}
			ended := map[string]int{}
			for w, list := range applied {
				for _, id := range list {
					if prev, twice := ended[id]; twice {
						t.Fatalf("run %s applied by writers %d and %d", id, prev, w)
					}
					ended[id] = w
				}
			}
			for _, id := range all {
				w, ok := ended[id]
				if !ok {
					t.Fatalf("run %s was applied by no writer", id)
				}
				if got := checkStatus(t, s, id, connecthub.StatusSuccess); got.Message != fmt.Sprint("writer ", w) {
					t.Errorf("run %s: message %q, want the applying writer's (%d)", id, got.Message, w)
				}
			}
		},
		"TerminalNeverChanges": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusSuccess, Message: "first", Now: t0})
			for _, o := range []store.RunOutcome{
				{Status: connecthub.StatusFailure, Error: "late"},
				{Status: connecthub.StatusCanceled},
				{Status: connecthub.StatusQueued, ConsumeAttempt: true, RetryAt: t0},
				{Status: connecthub.StatusQueued},
			} {
				o.ID, o.Node, o.Now = r.ID, node1, t0.Add(time.Minute)
				if applied := complete(t, s, o); applied[0] {
					t.Errorf("%s outcome applied to a finished run", o.Status)
				}
			}
			_, err := s.RunCancel(t.Context(), r.ID, t0)
			requireKind(t, err, connecthub.KindConflict)
			if rescued, err := s.RunRescue(t.Context(), t0.Add(time.Hour), 10); err != nil || len(rescued) != 0 {
				t.Errorf("RunRescue touched a finished run: %v, %v", ids(rescued), err)
			}
			got := checkStatus(t, s, r.ID, connecthub.StatusSuccess)
			if got.Message != "first" {
				t.Errorf("message = %q, want the first outcome's", got.Message)
			}
			checkTimePtr(t, "finished_at", ptr(t0), got.FinishedAt)
		},
		"OtherNodeNotApplied": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			if applied := complete(t, s, store.RunOutcome{ID: r.ID, Node: node2, Status: connecthub.StatusSuccess, Now: t0}); applied[0] {
				t.Fatal("an outcome from a node that does not hold the run was applied")
			}
			got := checkStatus(t, s, r.ID, connecthub.StatusRunning)
			if got.Node != node1 {
				t.Errorf("node = %s, want %s", got.Node, node1)
			}
		},
		"RescuedNotApplied": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			if _, err := s.RunRescue(t.Context(), t0.Add(time.Hour), 10); err != nil {
				t.Fatal(err)
			}
			if applied := complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0.Add(time.Hour)}); applied[0] {
				t.Fatal("an outcome for a rescued run was applied")
			}
		},
		"StaleAttemptNotApplied": func(t *testing.T, s store.Store) {
			// Each kind of outcome from attempt 1 of a run that was rescued
			// and claimed again by the same node, as attempt 2.
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			now := t0.Add(2 * time.Hour)
			tests := map[string]store.RunOutcome{
				"success":   {Status: connecthub.StatusSuccess, Message: "stale"},
				"failure":   {Status: connecthub.StatusFailure, Error: "stale"},
				"canceled":  {Status: connecthub.StatusCanceled},
				"retry":     {Status: connecthub.StatusQueued, ConsumeAttempt: true, RetryAt: now, Error: "stale"},
				"hand-back": {Status: connecthub.StatusQueued},
			}
			var batch []store.RunOutcome
			var batched []*connecthub.Run
			for name, o := range tests {
				r := reclaimedRun(t, s, j)
				o.ID, o.Node, o.Now, o.Attempt = r.ID, node1, now, 1
				if applied := complete(t, s, o); applied[0] {
					t.Errorf("%s: the stale attempt's outcome was applied", name)
				}
				got := checkStatus(t, s, r.ID, connecthub.StatusRunning)
				if got.Attempt != 2 || got.Message != "" || got.Error != connecthub.ReasonWorkerLost {
					t.Errorf("%s: run changed: attempt %d message %q error %q", name, got.Attempt, got.Message, got.Error)
				}
				if o.Status != connecthub.StatusQueued {
					b := reclaimedRun(t, s, j)
					o.ID = b.ID
					batch = append(batch, o)
					batched = append(batched, b)
				}
			}
			// Terminal outcomes in one batch take the batched path.
			for i, ok := range complete(t, s, batch...) {
				if ok {
					t.Errorf("batched stale outcome %d was applied", i)
				}
			}
			for _, r := range batched {
				checkStatus(t, s, r.ID, connecthub.StatusRunning)
			}
		},
		"CurrentAttemptApplied": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			now := t0.Add(2 * time.Hour)
			// One outcome at a time, a batch, and a re-queue.
			one := reclaimedRun(t, s, j)
			a, b := reclaimedRun(t, s, j), reclaimedRun(t, s, j)
			back := reclaimedRun(t, s, j)
			if applied := complete(t, s, store.RunOutcome{ID: one.ID, Node: node1, Status: connecthub.StatusSuccess, Message: "current", Now: now, Attempt: 2}); !applied[0] {
				t.Fatal("the current attempt's outcome was not applied")
			}
			got := checkStatus(t, s, one.ID, connecthub.StatusSuccess)
			if got.Message != "current" || got.Attempt != 2 {
				t.Errorf("message %q attempt %d, want current and 2", got.Message, got.Attempt)
			}
			applied := complete(t, s,
				store.RunOutcome{ID: a.ID, Node: node1, Status: connecthub.StatusFailure, Now: now, Attempt: 2},
				store.RunOutcome{ID: b.ID, Node: node1, Status: connecthub.StatusSuccess, Now: now, Attempt: 1},
				store.RunOutcome{ID: back.ID, Node: node1, Status: connecthub.StatusQueued, ConsumeAttempt: true, RetryAt: now, Error: "again", Now: now, Attempt: 2},
			)
			if want := []bool{true, false, true}; !slices.Equal(applied, want) {
				t.Fatalf("applied = %v, want %v", applied, want)
			}
			checkStatus(t, s, a.ID, connecthub.StatusFailure)
			checkStatus(t, s, b.ID, connecthub.StatusRunning)
			got = checkStatus(t, s, back.ID, connecthub.StatusQueued)
			if got.Attempt != 3 || len(got.Attempts) != 2 || got.Attempts[1].Attempt != 2 || got.Attempts[1].Error != "again" {
				t.Errorf("retry of attempt 2: attempt %d, history %+v", got.Attempt, got.Attempts)
			}
			// Attempt 0 skips the check.
			if applied := complete(t, s, store.RunOutcome{ID: b.ID, Node: node1, Status: connecthub.StatusSuccess, Now: now}); !applied[0] {
				t.Error("an outcome without an attempt was not applied")
			}
		},
		"UnknownRun": func(t *testing.T, s store.Store) {
			if applied := complete(t, s, store.RunOutcome{ID: ulid.Make().String(), Node: node1, Status: connecthub.StatusSuccess, Now: t0}); applied[0] {
				t.Fatal("an outcome for an unknown run was applied")
			}
		},
		"RetryConsumesAttempt": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			r := runningRun(t, s, j, node1, t0)
			retryAt := t0.Add(time.Minute)
			applied := complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusQueued,
				ConsumeAttempt: true, RetryAt: retryAt, Error: "boom", Now: t0.Add(time.Second)})
			if !applied[0] {
				t.Fatal("retry not applied")
			}
			got := checkStatus(t, s, r.ID, connecthub.StatusQueued)
			if got.Attempt != 2 || got.MaxAttempts != 3 {
				t.Errorf("attempt %d of %d, want 2 of 3", got.Attempt, got.MaxAttempts)
			}
			checkTime(t, "available_at", retryAt, got.AvailableAt)
			if got.LeaseExpiresAt != nil || got.FinishedAt != nil {
				t.Errorf("re-queued run has lease %v, finished_at %v", got.LeaseExpiresAt, got.FinishedAt)
			}
			if len(got.Attempts) != 1 {
				t.Fatalf("attempts = %+v, want one entry", got.Attempts)
			}
			a := got.Attempts[0]
			if a.Attempt != 1 || a.Error != "boom" || a.Node != node1 || a.Status != connecthub.StatusFailure {
				t.Errorf("attempt entry = %+v", a)
			}
			checkTime(t, "attempt finished_at", t0.Add(time.Second), a.FinishedAt)
			checkTimePtr(t, "attempt started_at", ptr(t0), a.StartedAt)

			if again := claim(t, s, store.RunClaimParams{Queues: []string{r.Queue}, Now: retryAt.Add(-time.Microsecond)}); len(again) != 0 {
				t.Fatal("a retry was claimed before its back-off")
			}
			again := claim(t, s, store.RunClaimParams{Node: node2, Queues: []string{r.Queue}, Now: retryAt})
			if len(again) != 1 || again[0].Attempt != 2 || again[0].Node != node2 {
				t.Fatalf("claim after back-off = %+v", again)
			}
			// The second failure is kept too.
			complete(t, s, store.RunOutcome{ID: r.ID, Node: node2, Status: connecthub.StatusQueued,
				ConsumeAttempt: true, RetryAt: retryAt, Error: "again", Now: retryAt})
			got = checkStatus(t, s, r.ID, connecthub.StatusQueued)
			if got.Attempt != 3 || len(got.Attempts) != 2 || got.Attempts[1].Error != "again" || got.Attempts[1].Attempt != 2 {
				t.Errorf("after a second retry: attempt %d, history %+v", got.Attempt, got.Attempts)
			}
		},
		"RetryWithoutAttemptsLeftFails": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 1 })
			r := runningRun(t, s, j, node1, t0)
			applied := complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusQueued,
				ConsumeAttempt: true, RetryAt: t0, Error: "boom", Now: t0})
			if !applied[0] {
				t.Fatal("outcome not applied")
			}
			got := checkStatus(t, s, r.ID, connecthub.StatusFailure)
			if got.Attempt != 1 || got.Error != "boom" {
				t.Errorf("attempt %d error %q, want 1 and boom", got.Attempt, got.Error)
			}
		},
		"HandBack": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 2 })
			r := runningRun(t, s, j, node1, t0)
			now := t0.Add(time.Second)
			runs := subscribe(t, s, store.TopicRuns)
			if applied := complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusQueued, Now: now}); !applied[0] {
				t.Fatal("hand-back not applied")
			}
			waitNotified(t, runs, "a hand-back")
			got := checkStatus(t, s, r.ID, connecthub.StatusQueued)
			if got.Attempt != 1 || len(got.Attempts) != 0 {
				t.Errorf("hand-back consumed an attempt: attempt %d, history %+v", got.Attempt, got.Attempts)
			}
			checkTime(t, "available_at", now, got.AvailableAt)
			again := claim(t, s, store.RunClaimParams{Node: node2, Queues: []string{r.Queue}, Now: now})
			if len(again) != 1 || again[0].Attempt != 1 {
				t.Fatalf("claim after hand-back = %+v", again)
			}
		},
		"RequeueAfterCancelRequestCancels": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			for _, consume := range []bool{true, false} {
				r := runningRun(t, s, j, node1, t0)
				if _, err := s.RunCancel(t.Context(), r.ID, t0); err != nil {
					t.Fatal(err)
				}
				applied := complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusQueued,
					ConsumeAttempt: consume, RetryAt: t0, Now: t0.Add(time.Second)})
				if !applied[0] {
					t.Fatal("outcome not applied")
				}
				got := checkStatus(t, s, r.ID, connecthub.StatusCanceled)
				checkTimePtr(t, "finished_at", ptr(t0.Add(time.Second)), got.FinishedAt)
			}
		},
		"Batch": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 2 })
			a := runningRun(t, s, j, node1, t0)
			b := runningRun(t, s, j, node1, t0)
			c := runningRun(t, s, j, node2, t0)
			d := runningRun(t, s, j, node1, t0)
			e := runningRun(t, s, j, node1, t0)
			applied := complete(t, s,
				store.RunOutcome{ID: a.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0},
				store.RunOutcome{ID: b.ID, Node: node1, Status: connecthub.StatusQueued, ConsumeAttempt: true, RetryAt: t0, Error: "x", Now: t0},
				store.RunOutcome{ID: c.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0}, // not node1's
				store.RunOutcome{ID: d.ID, Node: node1, Status: connecthub.StatusFailure, Now: t0},
				store.RunOutcome{ID: ulid.Make().String(), Node: node1, Status: connecthub.StatusFailure, Now: t0},
				store.RunOutcome{ID: e.ID, Node: node1, Status: connecthub.StatusQueued, Now: t0},
			)
			if want := []bool{true, true, false, true, false, true}; !slices.Equal(applied, want) {
				t.Fatalf("applied = %v, want %v", applied, want)
			}
			checkStatus(t, s, a.ID, connecthub.StatusSuccess)
			checkStatus(t, s, b.ID, connecthub.StatusQueued)
			checkStatus(t, s, c.ID, connecthub.StatusRunning)
			checkStatus(t, s, d.ID, connecthub.StatusFailure)
			checkStatus(t, s, e.ID, connecthub.StatusQueued)
		},
		"SameRunTwiceInABatch": func(t *testing.T, s store.Store) {
			// As if the outcomes had come one call after the other: the first
			// that applies wins.
			j := newJob(t, s, "j")
			a := runningRun(t, s, j, node1, t0)
			b := runningRun(t, s, j, node1, t0)
			applied := complete(t, s,
				store.RunOutcome{ID: a.ID, Node: node2, Status: connecthub.StatusFailure, Now: t0}, // not node2's
				store.RunOutcome{ID: a.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0},
				store.RunOutcome{ID: a.ID, Node: node1, Status: connecthub.StatusFailure, Now: t0}, // a is done by now
				store.RunOutcome{ID: b.ID, Node: node1, Status: connecthub.StatusQueued, Now: t0},  // hand-back
				store.RunOutcome{ID: b.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0}, // b is QUEUED by now
			)
			if want := []bool{false, true, false, true, false}; !slices.Equal(applied, want) {
				t.Fatalf("applied = %v, want %v", applied, want)
			}
			checkStatus(t, s, a.ID, connecthub.StatusSuccess)
			checkStatus(t, s, b.ID, connecthub.StatusQueued)
		},
		"Empty": func(t *testing.T, s store.Store) {
			applied, err := s.RunComplete(t.Context(), nil)
			if err != nil || len(applied) != 0 {
				t.Fatalf("RunComplete(nil) = %v, %v", applied, err)
			}
		},
		"BadOutcome": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			for _, st := range []connecthub.RunStatus{connecthub.StatusRunning, connecthub.StatusSkipped, "", "DONE"} {
				_, err := s.RunComplete(t.Context(), []store.RunOutcome{
					{ID: r.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0},
					{ID: r.ID, Node: node1, Status: st, Now: t0},
				})
				if !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("status %q: RunComplete = %v, want an invalid error", st, err)
				}
			}
			_, err := s.RunComplete(t.Context(), []store.RunOutcome{{ID: r.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0, Attempt: -1}})
			requireKind(t, err, connecthub.KindInvalid)
			// Nothing of a rejected batch was applied.
			checkStatus(t, s, r.ID, connecthub.StatusRunning)
		},
	})
}
