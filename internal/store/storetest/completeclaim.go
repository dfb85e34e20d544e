package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// completeAndClaim calls RunCompleteAndClaim, with claimDefaults for the
// claim parameters, and fails the test on error.
func completeAndClaim(t *testing.T, s store.RunCompleteClaimer, outcomes []store.RunOutcome, p store.RunClaimParams) ([]bool, []*connecthub.Run) {
	t.Helper()
	applied, runs, err := s.RunCompleteAndClaim(t.Context(), outcomes, claimDefaults(p))
	if err != nil {
		t.Fatalf("RunCompleteAndClaim: %v", err)
	}
	if len(applied) != len(outcomes) {
		t.Fatalf("RunCompleteAndClaim returned %d results for %d outcomes", len(applied), len(outcomes))
	}
	return applied, runs
}

// claimDefaults fills the claim parameters a test leaves out: node1, the
// default queue, 100 runs, the suite's lease TTL.
func claimDefaults(p store.RunClaimParams) store.RunClaimParams {
	if p.Node == "" {
		p.Node = node1
	}
	if len(p.Queues) == 0 {
		p.Queues = []string{connecthub.DefaultQueue}
	}
	if p.Max == 0 {
		p.Max = 100
	}
	if p.LeaseTTL == 0 {
		p.LeaseTTL = ttl
	}
	return p
}

// completeClaimer returns s as a store.RunCompleteClaimer, or skips the
// test for a driver without the optional method.
func completeClaimer(t *testing.T, s store.Store) store.RunCompleteClaimer {
	t.Helper()
	cc, ok := s.(store.RunCompleteClaimer)
	if !ok {
		t.Skipf("%T does not implement store.RunCompleteClaimer", s)
	}
	return cc
}

// success is a SUCCESS outcome of r by node at now, in r's attempt.
func success(r *connecthub.Run, node string, now time.Time) store.RunOutcome {
	return store.RunOutcome{ID: r.ID, Node: node, Status: connecthub.StatusSuccess, Message: "ok " + r.ID, Now: now, Attempt: r.Attempt}
}

func exerciseCompleteClaim(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"CompletesThenClaims": func(t *testing.T, s store.Store) {
			cc := completeClaimer(t, s)
			j := newJob(t, s, "j")
			var queued []*connecthub.Run
			for i := range 5 {
				queued = append(queued, queuedRun(t, s, j, t0.Add(time.Duration(i)*time.Millisecond)))
			}
			held := claim(t, s, store.RunClaimParams{Max: 2, Now: t0.Add(time.Second)})
			checkStrings(t, "first claim", ids(queued[:2]), ids(held))

			now := t0.Add(2 * time.Second)
			failed := success(held[1], node1, now)
			failed.Status, failed.Error = connecthub.StatusFailure, "boom"
			applied, got := completeAndClaim(t, cc, []store.RunOutcome{success(held[0], node1, now), failed},
				store.RunClaimParams{Node: node2, Max: 2, LeaseTTL: 45 * time.Second, Now: now})
			if !slices.Equal(applied, []bool{true, true}) {
				t.Fatalf("applied = %v, want both", applied)
			}
			checkStrings(t, "claimed", ids(queued[2:4]), ids(got))

			r := checkStatus(t, s, held[0].ID, connecthub.StatusSuccess)
			if r.Message != "ok "+held[0].ID {
				t.Errorf("message = %q", r.Message)
			}
			checkTimePtr(t, "finished_at", ptr(now), r.FinishedAt)
			if r = checkStatus(t, s, held[1].ID, connecthub.StatusFailure); r.Error != "boom" {
				t.Errorf("error = %q, want boom", r.Error)
			}
			for _, c := range got {
				if c.Status != connecthub.StatusRunning || c.Node != node2 {
					t.Errorf("claimed run %s is %s on %q, want RUNNING on %s", c.ID, c.Status, c.Node, node2)
				}
				checkTimePtr(t, "lease_expires_at", ptr(now.Add(45*time.Second)), c.LeaseExpiresAt)
				if c.Snapshot.SecretCfg != j.SecretCfg {
					t.Errorf("claimed run %s has secret token %q, want the job's", c.ID, c.Snapshot.SecretCfg)
				}
				checkStatus(t, s, c.ID, connecthub.StatusRunning)
			}
			checkStatus(t, s, queued[4].ID, connecthub.StatusQueued)
		},
		"NoOutcomes": func(t *testing.T, s store.Store) {
			cc := completeClaimer(t, s)
			j := newJob(t, s, "j")
			r := queuedRun(t, s, j, t0)
			applied, got := completeAndClaim(t, cc, nil, store.RunClaimParams{Max: 5, Now: t0})
			if len(applied) != 0 {
				t.Errorf("applied = %v, want none", applied)
			}
			checkStrings(t, "claimed", []string{r.ID}, ids(got))
			checkStatus(t, s, r.ID, connecthub.StatusRunning)
		},
		"NotHeldNotApplied": func(t *testing.T, s store.Store) {
			cc := completeClaimer(t, s)
			j := newJob(t, s, "j")
			other := runningRun(t, s, j, node2, t0)
			mine := runningRun(t, s, j, node1, t0)
			stale := success(mine, node1, t0.Add(time.Second))
			stale.Attempt = mine.Attempt + 1
			outcomes := []store.RunOutcome{
				success(other, node1, t0.Add(time.Second)), // held by node2
				stale, // another attempt
				{ID: "missing", Node: node1, Status: connecthub.StatusSuccess, Now: t0},
			}
			applied, got := completeAndClaim(t, cc, outcomes, store.RunClaimParams{Now: t0.Add(time.Second)})
			if !slices.Equal(applied, []bool{false, false, false}) {
				t.Errorf("applied = %v, want none", applied)
			}
			if len(got) != 0 {
				t.Errorf("claimed %v from an empty queue", ids(got))
			}
			checkStatus(t, s, other.ID, connecthub.StatusRunning)
			checkStatus(t, s, mine.ID, connecthub.StatusRunning)
		},
		"InvalidChangesNothing": func(t *testing.T, s store.Store) {
			cc := completeClaimer(t, s)
			j := newJob(t, s, "j")
			tests := []struct {
				name    string
				outcome func(o *store.RunOutcome)
				claim   func(p *store.RunClaimParams)
			}{
				{name: "claim max below 1", claim: func(p *store.RunClaimParams) { p.Max = -1 }},
				{name: "claim without node", claim: func(p *store.RunClaimParams) { p.Node = "" }},
				{name: "claim without lease", claim: func(p *store.RunClaimParams) { p.LeaseTTL = -time.Second }},
				{name: "claim with an empty queue name", claim: func(p *store.RunClaimParams) { p.Queues = []string{""} }},
				{name: "outcome without id", outcome: func(o *store.RunOutcome) { o.ID = "" }},
				{name: "outcome with a bad status", outcome: func(o *store.RunOutcome) { o.Status = connecthub.StatusRunning }},
				{name: "outcome with bad JSON", outcome: func(o *store.RunOutcome) { o.Result = []byte("{") }},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					held := runningRun(t, s, j, node1, t0)
					queued := queuedRun(t, s, j, t0)
					o := success(held, node1, t0.Add(time.Second))
					p := claimDefaults(store.RunClaimParams{Now: t0.Add(time.Second)})
					if tc.outcome != nil {
						tc.outcome(&o)
					}
					if tc.claim != nil {
						tc.claim(&p)
					}
					_, _, err := cc.RunCompleteAndClaim(t.Context(), []store.RunOutcome{o}, p)
					requireKind(t, err, connecthub.KindInvalid)
					checkStatus(t, s, held.ID, connecthub.StatusRunning)
					checkStatus(t, s, queued.ID, connecthub.StatusQueued)
					// Leave the queue empty for the next case.
					claim(t, s, store.RunClaimParams{Max: 1, Now: t0.Add(time.Second)})
				})
			}
		},
		"RequeuedRunsAreClaimable": func(t *testing.T, s store.Store) {
			cc := completeClaimer(t, s)
			j := newJob(t, s, "j")
			tests := []struct {
				name        string
				consume     bool
				wantAttempt int
			}{
				{name: "retry", consume: true, wantAttempt: 2},
				{name: "hand-back", consume: false, wantAttempt: 1},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					r := runningRun(t, s, j, node1, t0)
					notified := subscribe(t, s, store.TopicRuns)
					now := t0.Add(time.Second)
					o := store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusQueued, Error: "try again",
						Now: now, ConsumeAttempt: tc.consume, Attempt: r.Attempt}
					applied, got := completeAndClaim(t, cc, []store.RunOutcome{o},
						store.RunClaimParams{Queues: []string{r.Queue}, Max: 1, Now: now})
					if !applied[0] {
						t.Fatalf("re-queue not applied")
					}
					checkStrings(t, "claimed", []string{r.ID}, ids(got))
					if got[0].Attempt != tc.wantAttempt {
						t.Errorf("claimed attempt %d, want %d", got[0].Attempt, tc.wantAttempt)
					}
					checkTimePtr(t, "started_at", ptr(now), got[0].StartedAt)
					waitNotified(t, notified, "a re-queue")
				})
			}
		},
		"RepeatedRun": func(t *testing.T, s store.Store) {
			cc := completeClaimer(t, s)
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			q := queuedRun(t, s, j, t0)
			failed := success(r, node1, t0.Add(time.Second))
			failed.Status = connecthub.StatusFailure
			applied, got := completeAndClaim(t, cc, []store.RunOutcome{success(r, node1, t0.Add(time.Second)), failed},
				store.RunClaimParams{Now: t0.Add(time.Second)})
			if !slices.Equal(applied, []bool{true, false}) {
				t.Errorf("applied = %v, want the first only", applied)
			}
			checkStrings(t, "claimed", []string{q.ID}, ids(got))
			checkStatus(t, s, r.ID, connecthub.StatusSuccess)
		},
		"LargeBatch": func(t *testing.T, s store.Store) {
			cc := completeClaimer(t, s)
			j := newJob(t, s, "j")
			const n = 300
			runs := make([]*connecthub.Run, 2*n)
			for i := range runs {
				runs[i] = manualRun(j, t0)
			}
			insertRuns(t, s, runs...)
			held := claim(t, s, store.RunClaimParams{Max: n, Now: t0})
			outcomes := make([]store.RunOutcome, len(held))
			for i, r := range held {
				outcomes[i] = success(r, node1, t0.Add(time.Second))
			}
			applied, got := completeAndClaim(t, cc, outcomes, store.RunClaimParams{Max: n, Now: t0.Add(time.Second)})
			if i := slices.Index(applied, false); i >= 0 {
				t.Fatalf("outcome %d not applied", i)
			}
			if len(got) != n {
				t.Fatalf("claimed %d runs, want %d", len(got), n)
			}
			for _, r := range held {
				checkStatus(t, s, r.ID, connecthub.StatusSuccess)
			}
			for _, r := range got {
				if slices.Contains(ids(held), r.ID) {
					t.Fatalf("claimed run %s again", r.ID)
				}
			}
		},
	})
}
