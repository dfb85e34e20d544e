package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func exerciseClaim(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"PriorityThenAge": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			mk := func(priority int, age time.Duration) *connecthub.Run {
				r := manualRun(j, t0.Add(-age))
				r.Priority = priority
				return r
			}
			// Inserted oldest first, as ids follow creation.
			a := mk(0, 5*time.Second)
			b := mk(5, 4*time.Second)
			c := mk(5, 3*time.Second)
			d := mk(0, 2*time.Second)
			e := mk(-1, time.Second)
			for _, r := range []*connecthub.Run{a, b, c, d, e} {
				insertRuns(t, s, r)
			}
			var got []string
			for range 6 {
				runs := claim(t, s, store.RunClaimParams{Max: 1, Now: t0})
				got = append(got, ids(runs)...)
			}
			checkStrings(t, "claim order", ids([]*connecthub.Run{b, c, a, d, e}), got)
		},
		"ListBounds": func(t *testing.T, s store.Store) {
			// A claim names at most MaxClaimQueues queues and
			// MaxClaimHandlers handlers (after removing duplicates), in
			// every driver.
			j := newJob(t, s, "j")
			r := manualRun(j, t0)
			insertRuns(t, s, r)
			names := func(prefix string, n int) []string {
				out := make([]string, n)
				for i := range out {
					out[i] = fmt.Sprintf("%s-%d", prefix, i)
				}
				return out
			}
			queues := append(names("q", store.MaxClaimQueues-1), r.Queue)
			handlers := append(names("h", store.MaxClaimHandlers-1), r.Snapshot.Handler)
			for _, p := range []store.RunClaimParams{
				{Queues: append(names("q", store.MaxClaimQueues), r.Queue)},
				{Queues: []string{r.Queue}, Handlers: append(names("h", store.MaxClaimHandlers), r.Snapshot.Handler)},
			} {
				p.Node, p.Max, p.LeaseTTL, p.Now = node1, 1, ttl, t0
				_, err := s.RunClaim(t.Context(), p)
				requireKind(t, err, connecthub.KindInvalid)
			}
			// At the bounds, and with duplicates beyond them, it claims.
			got := claim(t, s, store.RunClaimParams{Max: 1, Now: t0,
				Queues: append(queues, queues...), Handlers: append(handlers, handlers...)})
			checkStrings(t, "claimed at the bounds", []string{r.ID}, ids(got))
		},
		"BatchInClaimOrder": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			var want []*connecthub.Run
			for i := range 10 {
				r := manualRun(j, t0.Add(time.Duration(i)*time.Millisecond))
				r.Priority = i % 3
				insertRuns(t, s, r)
				want = append(want, r)
			}
			slices.SortStableFunc(want, func(a, b *connecthub.Run) int { return b.Priority - a.Priority })
			got := claim(t, s, store.RunClaimParams{Max: 4, Now: t0.Add(time.Second)})
			checkStrings(t, "claimed batch", ids(want[:4]), ids(got))
		},
		"MarksRunning": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := queuedRun(t, s, j, t0.Add(-time.Minute))
			now := t0.In(shanghai)
			got := claim(t, s, store.RunClaimParams{Node: node2, Max: 1, LeaseTTL: 45 * time.Second, Now: now})
			if len(got) != 1 {
				t.Fatalf("claimed %d runs, want 1", len(got))
			}
			for _, c := range []*connecthub.Run{got[0], getRun(t, s, r.ID)} {
				if c.ID != r.ID || c.Status != connecthub.StatusRunning || c.Node != node2 || c.Attempt != 1 {
					t.Errorf("claimed run id=%s status=%s node=%s attempt=%d", c.ID, c.Status, c.Node, c.Attempt)
				}
				checkTimePtr(t, "lease_expires_at", ptr(now.Add(45*time.Second)), c.LeaseExpiresAt)
				checkTimePtr(t, "started_at", ptr(now), c.StartedAt)
				checkSnapshot(t, r.Snapshot, c.Snapshot)
			}
		},
		"SnapshotIntact": func(t *testing.T, s store.Store) {
			// Drivers may read the snapshots of claimed runs with a decoder
			// of their own, and fall back to encoding/json for text it does
			// not expect (here, the retry's escaped quotes): either way,
			// every field must come back as it went in.
			j := newJob(t, s, "j", func(j *connecthub.Job) {
				j.Handler = "sync.élan"
				j.PublicCfg = json.RawMessage(`{"url": "https://example.test/a?b=\"c\"", "deep": [1, -2.5e3, {"x": null, "y": "\u00e9\n"}], "t": true}`)
				j.SecretKeys = []string{"password", "tökén"}
				j.HasSecret = true
				j.Timeout = connecthub.Duration(90 * time.Second)
				j.RetryBackoff = connecthub.Duration(1500 * time.Millisecond)
				j.MaxAttempts = 4
			})
			plain := queuedRun(t, s, j, t0)
			retry := connecthub.NewRun(j, connecthub.TriggerRetry, t0.Add(time.Second), t0.Add(time.Second), "ops \"night\" shift")
			retry.Snapshot.Meta.RetryOf = plain.ID
			retry.Snapshot.SecretKeys = []string{"pass\"word", "tab\tkey"}
			insertRuns(t, s, retry)
			got := claim(t, s, store.RunClaimParams{Max: 2, Now: t0.Add(time.Minute)})
			if len(got) != 2 || got[0].ID != plain.ID || got[1].ID != retry.ID {
				t.Fatalf("claimed %v, want %s then %s", ids(got), plain.ID, retry.ID)
			}
			for i, want := range []*connecthub.Run{plain, retry} {
				checkSnapshot(t, want.Snapshot, got[i].Snapshot)
				checkSnapshot(t, want.Snapshot, getRun(t, s, want.ID).Snapshot)
			}
		},
		"ClaimerGetsSecret": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.SecretCfg = "gAAAAAB-for-the-worker" })
			queuedRun(t, s, j, t0)
			got := claim(t, s, store.RunClaimParams{Max: 1, Now: t0})
			if len(got) != 1 || got[0].Snapshot.SecretCfg != "gAAAAAB-for-the-worker" {
				t.Fatalf("claimed run lacks its secret token: %+v", got)
			}
		},
		"NotBeforeAvailable": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := manualRun(j, t0)
			r.AvailableAt = t0.Add(time.Minute)
			insertRuns(t, s, r)
			if got := claim(t, s, store.RunClaimParams{Now: t0.Add(time.Minute - time.Microsecond)}); len(got) != 0 {
				t.Fatalf("claimed %v before it was available", ids(got))
			}
			if got := claim(t, s, store.RunClaimParams{Now: t0.Add(time.Minute)}); len(got) != 1 {
				t.Fatalf("claimed %d runs once available, want 1", len(got))
			}
		},
		"QueueFilter": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			byQueue := map[string]*connecthub.Run{}
			for _, q := range []string{"default", "other", "third"} {
				r := manualRun(j, t0)
				r.Queue = q
				byQueue[q] = insertRuns(t, s, r)[0]
			}
			got := claim(t, s, store.RunClaimParams{Queues: []string{"other"}, Now: t0})
			checkStrings(t, "queue other", []string{byQueue["other"].ID}, ids(got))
			got = claim(t, s, store.RunClaimParams{Queues: []string{"nothing-here"}, Now: t0})
			checkStrings(t, "empty queue", nil, ids(got))
			got = claim(t, s, store.RunClaimParams{Queues: []string{"third", "default", "third"}, Now: t0})
			want := []string{byQueue["default"].ID, byQueue["third"].ID}
			slices.Sort(want)
			gotIDs := ids(got)
			slices.Sort(gotIDs)
			checkStrings(t, "queues default and third", want, gotIDs)
		},
		"SeveralQueuesKeepOrder": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			var all []*connecthub.Run
			for i := range 12 {
				r := manualRun(j, t0.Add(time.Duration(i)*time.Millisecond))
				r.Queue = []string{"a", "b", "c"}[i%3]
				r.Priority = (i * 7) % 4
				all = append(all, insertRuns(t, s, r)[0])
			}
			want := slices.Clone(all)
			slices.SortStableFunc(want, func(a, b *connecthub.Run) int { return b.Priority - a.Priority })
			var got []string
			for range 4 {
				got = append(got, ids(claim(t, s, store.RunClaimParams{Queues: []string{"a", "b", "c"}, Max: 3, Now: t0.Add(time.Second)}))...)
			}
			checkStrings(t, "claim order across queues", ids(want), got)
		},
		"HandlerFilter": func(t *testing.T, s store.Store) {
			noop := newJob(t, s, "noop")
			sleep := newJob(t, s, "sleep", func(j *connecthub.Job) { j.Handler = "sleep" })
			a := queuedRun(t, s, noop, t0)
			b := queuedRun(t, s, sleep, t0)
			got := claim(t, s, store.RunClaimParams{Handlers: []string{"sleep", "shell"}, Now: t0})
			checkStrings(t, "sleep handler", []string{b.ID}, ids(got))
			got = claim(t, s, store.RunClaimParams{Handlers: []string{"shell"}, Now: t0})
			checkStrings(t, "unknown handler", nil, ids(got))
			got = claim(t, s, store.RunClaimParams{Now: t0})
			checkStrings(t, "any handler", []string{a.ID}, ids(got))
		},
		"Max": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			for i := range 5 {
				queuedRun(t, s, j, t0.Add(time.Duration(i)*time.Millisecond))
			}
			now := t0.Add(time.Second)
			if got := claim(t, s, store.RunClaimParams{Max: 3, Now: now}); len(got) != 3 {
				t.Fatalf("claimed %d, want 3", len(got))
			}
			if got := claim(t, s, store.RunClaimParams{Max: 3, Now: now}); len(got) != 2 {
				t.Fatalf("claimed %d, want the 2 left", len(got))
			}
			if got := claim(t, s, store.RunClaimParams{Max: 3, Now: now}); len(got) != 0 {
				t.Fatalf("claimed %d from an empty queue", len(got))
			}
		},
		"OnlyQueued": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := manualRun(j, t0)
			r.Status = connecthub.StatusSkipped
			insertRuns(t, s, r)
			canceled := queuedRun(t, s, j, t0)
			if _, err := s.RunCancel(t.Context(), canceled.ID, t0); err != nil {
				t.Fatal(err)
			}
			if got := claim(t, s, store.RunClaimParams{Now: t0}); len(got) != 0 {
				t.Fatalf("claimed runs that are not QUEUED: %v", ids(got))
			}
		},
		"ConcurrentClaimersNeverShare": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			const total, claimers = 500, 10
			batch := make([]*connecthub.Run, total)
			for i := range batch {
				batch[i] = manualRun(j, t0.Add(time.Duration(i)*time.Microsecond))
				batch[i].Priority = i % 5
			}
			insertRuns(t, s, batch...)
			var (
				mu  sync.Mutex
				got = map[string]string{}
				wg  sync.WaitGroup
			)
			errs := make(chan error, claimers)
			for c := range claimers {
				node := fmt.Sprintf("claimer-%d", c)
				wg.Go(func() {
					for {
						runs, err := s.RunClaim(t.Context(), store.RunClaimParams{
							Node: node, Queues: []string{connecthub.DefaultQueue}, Max: 7, LeaseTTL: ttl, Now: t0.Add(time.Second),
						})
						if err != nil {
							errs <- err
							return
						}
						if len(runs) == 0 {
							return
						}
						mu.Lock()
						for _, r := range runs {
							if prev, ok := got[r.ID]; ok {
								errs <- fmt.Errorf("run %s claimed by %s and %s", r.ID, prev, node)
							}
							got[r.ID] = node
							if r.Node != node {
								errs <- fmt.Errorf("run %s claimed by %s says node %s", r.ID, node, r.Node)
							}
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if len(got) != total {
				t.Fatalf("claimed %d distinct runs, want %d", len(got), total)
			}
			for _, r := range batch {
				if got[r.ID] == "" {
					t.Fatalf("run %s was never claimed", r.ID)
				}
			}
		},
		"BadParams": func(t *testing.T, s store.Store) {
			good := store.RunClaimParams{Node: node1, Queues: []string{"default"}, Max: 1, LeaseTTL: ttl, Now: t0}
			for name, mutate := range map[string]func(*store.RunClaimParams){
				"no node":   func(p *store.RunClaimParams) { p.Node = "" },
				"no queue":  func(p *store.RunClaimParams) { p.Queues = nil },
				"max 0":     func(p *store.RunClaimParams) { p.Max = 0 },
				"no ttl":    func(p *store.RunClaimParams) { p.LeaseTTL = 0 },
				"empty one": func(p *store.RunClaimParams) { p.Queues = []string{""} },
			} {
				p := good
				mutate(&p)
				if _, err := s.RunClaim(t.Context(), p); !connecthub.IsKind(err, connecthub.KindInvalid) {
					t.Errorf("%s: RunClaim = %v, want an invalid error", name, err)
				}
			}
			if _, err := s.RunClaim(t.Context(), good); err != nil {
				t.Errorf("good params: %v", err)
			}
		},
	})
}

func exerciseHeartbeat(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"ExtendsLease": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			now := t0.Add(10 * time.Second)
			res, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: node1, IDs: []string{r.ID}, LeaseTTL: time.Minute, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Lost) != 0 || len(res.CancelRequested) != 0 {
				t.Fatalf("heartbeat = %+v, want nothing to report", res)
			}
			got := checkStatus(t, s, r.ID, connecthub.StatusRunning)
			checkTimePtr(t, "lease_expires_at", ptr(now.Add(time.Minute)), got.LeaseExpiresAt)
			checkTimePtr(t, "heartbeat_at", ptr(now), got.HeartbeatAt)
			// The extended lease protects the run from the rescuer.
			rescued, err := s.RunRescue(t.Context(), t0.Add(ttl+time.Second), 10)
			if err != nil || len(rescued) != 0 {
				t.Fatalf("RunRescue after a heartbeat = %v, %v; want nothing", ids(rescued), err)
			}
		},
		"ReportsCancelRequested": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			a := runningRun(t, s, j, node1, t0)
			b := runningRun(t, s, j, node1, t0)
			if _, err := s.RunCancel(t.Context(), b.ID, t0); err != nil {
				t.Fatal(err)
			}
			res, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: node1, IDs: []string{a.ID, b.ID}, LeaseTTL: ttl, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "cancel requested", []string{b.ID}, res.CancelRequested)
			checkStrings(t, "lost", nil, res.Lost)
			checkTimePtr(t, "lease of the run to cancel", ptr(t0.Add(ttl)), getRun(t, s, b.ID).LeaseExpiresAt)
		},
		"ReportsLost": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			held := runningRun(t, s, j, node1, t0)
			finished := runningRun(t, s, j, node1, t0)
			complete(t, s, store.RunOutcome{ID: finished.ID, Node: node1, Status: connecthub.StatusSuccess, Now: t0})
			rescued := runningRun(t, s, j, node1, t0.Add(-time.Hour))
			if got, err := s.RunRescue(t.Context(), t0, 10); err != nil || len(got) != 1 {
				t.Fatalf("RunRescue = %v, %v", ids(got), err)
			}
			other := runningRun(t, s, j, node2, t0)
			queued := queuedRun(t, s, j, t0)
			missing := ulid.Make().String()
			now := t0.Add(5 * time.Second)
			res, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{
				Node: node1, IDs: []string{held.ID, finished.ID, rescued.ID, other.ID, queued.ID, missing}, LeaseTTL: ttl, Now: now,
			})
			if err != nil {
				t.Fatal(err)
			}
			lost := slices.Clone(res.Lost)
			slices.Sort(lost)
			want := []string{finished.ID, rescued.ID, other.ID, queued.ID, missing}
			slices.Sort(want)
			checkStrings(t, "lost", want, lost)
			checkTimePtr(t, "lease of the held run", ptr(now.Add(ttl)), getRun(t, s, held.ID).LeaseExpiresAt)
			checkTimePtr(t, "lease of another node's run", ptr(t0.Add(ttl)), getRun(t, s, other.ID).LeaseExpiresAt)
		},
		"StaleAttemptIsLost": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			r := reclaimedRun(t, s, j)
			other := runningRun(t, s, j, node1, t0)
			now := t0.Add(2 * time.Hour)
			hb := func(attempts map[string]int) store.RunHeartbeatResult {
				t.Helper()
				res, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{
					Node: node1, IDs: []string{r.ID, other.ID}, Attempts: attempts, LeaseTTL: ttl, Now: now,
				})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			res := hb(map[string]int{r.ID: 1, other.ID: 1})
			checkStrings(t, "lost with the stale attempt", []string{r.ID}, res.Lost)
			checkTimePtr(t, "lease of the new attempt", r.LeaseExpiresAt, getRun(t, s, r.ID).LeaseExpiresAt)
			checkTimePtr(t, "lease of the other run", ptr(now.Add(ttl)), getRun(t, s, other.ID).LeaseExpiresAt)
			for name, attempts := range map[string]map[string]int{
				"current attempt": {r.ID: 2},
				"attempt 0":       {r.ID: 0},
				"no attempts":     nil,
			} {
				now = now.Add(time.Second)
				if res := hb(attempts); len(res.Lost) != 0 {
					t.Errorf("%s: lost %v", name, res.Lost)
				}
				checkTimePtr(t, name+": lease", ptr(now.Add(ttl)), getRun(t, s, r.ID).LeaseExpiresAt)
			}
			_, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{
				Node: node1, IDs: []string{r.ID}, Attempts: map[string]int{r.ID: -1}, LeaseTTL: ttl, Now: now,
			})
			requireKind(t, err, connecthub.KindInvalid)
		},
		"NoIDs": func(t *testing.T, s store.Store) {
			res, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: node1, LeaseTTL: ttl, Now: t0})
			if err != nil || len(res.Lost) != 0 || len(res.CancelRequested) != 0 {
				t.Fatalf("empty heartbeat = %+v, %v", res, err)
			}
		},
		"ManyIDs": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			batch := make([]*connecthub.Run, 700)
			for i := range batch {
				batch[i] = manualRun(j, t0)
			}
			insertRuns(t, s, batch...)
			claimed := claim(t, s, store.RunClaimParams{Max: 700, Now: t0})
			if len(claimed) != 700 {
				t.Fatalf("claimed %d", len(claimed))
			}
			idList := append(ids(claimed), "missing-1", "missing-2")
			res, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: node1, IDs: idList, LeaseTTL: time.Hour, Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "lost", []string{"missing-1", "missing-2"}, res.Lost)
			checkTimePtr(t, "lease", ptr(t0.Add(time.Hour)), getRun(t, s, claimed[699].ID).LeaseExpiresAt)
		},
	})
}

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

func exerciseCancel(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"Queued": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := queuedRun(t, s, j, t0)
			now := t0.Add(time.Second)
			got, err := s.RunCancel(t.Context(), r.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*connecthub.Run{got, getRun(t, s, r.ID)} {
				if c.Status != connecthub.StatusCanceled {
					t.Errorf("status = %s, want CANCELED", c.Status)
				}
				checkTimePtr(t, "finished_at", ptr(now), c.FinishedAt)
			}
			if claimed := claim(t, s, store.RunClaimParams{Now: now}); len(claimed) != 0 {
				t.Errorf("claimed a canceled run")
			}
		},
		"Running": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			cancel := subscribe(t, s, store.TopicCancel)
			got, err := s.RunCancel(t.Context(), r.ID, t0.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			waitNotified(t, cancel, "a cancel request")
			for _, c := range []*connecthub.Run{got, getRun(t, s, r.ID)} {
				if c.Status != connecthub.StatusRunning || !c.CancelRequested || c.FinishedAt != nil {
					t.Errorf("status=%s cancel_requested=%v finished_at=%v, want RUNNING, true, nil", c.Status, c.CancelRequested, c.FinishedAt)
				}
			}
			// Asking again is harmless; the worker ends the run.
			if _, err := s.RunCancel(t.Context(), r.ID, t0.Add(2*time.Second)); err != nil {
				t.Errorf("second cancel: %v", err)
			}
			if applied := complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusCanceled, Error: connecthub.ReasonCanceled, Now: t0.Add(3 * time.Second)}); !applied[0] {
				t.Fatal("the worker's CANCELED outcome was not applied")
			}
			checkStatus(t, s, r.ID, connecthub.StatusCanceled)
		},
		"Terminal": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			r := runningRun(t, s, j, node1, t0)
			complete(t, s, store.RunOutcome{ID: r.ID, Node: node1, Status: connecthub.StatusFailure, Now: t0})
			_, err := s.RunCancel(t.Context(), r.ID, t0)
			requireKind(t, err, connecthub.KindConflict)
			checkStatus(t, s, r.ID, connecthub.StatusFailure)
			q := queuedRun(t, s, j, t0)
			if _, err := s.RunCancel(t.Context(), q.ID, t0); err != nil {
				t.Fatal(err)
			}
			_, err = s.RunCancel(t.Context(), q.ID, t0)
			requireKind(t, err, connecthub.KindConflict)
		},
		"NotFound": func(t *testing.T, s store.Store) {
			_, err := s.RunCancel(t.Context(), ulid.Make().String(), t0)
			requireKind(t, err, connecthub.KindNotFound)
		},
	})
}

func exerciseRescue(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"RequeuesWithAttemptsLeft": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 2 })
			r := runningRun(t, s, j, node1, t0)
			now := t0.Add(ttl + time.Second)
			runs := subscribe(t, s, store.TopicRuns)
			rescued, err := s.RunRescue(t.Context(), now, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(rescued) != 1 || rescued[0].ID != r.ID {
				t.Fatalf("rescued %v, want %s", ids(rescued), r.ID)
			}
			waitNotified(t, runs, "a rescue re-queued a run")
			for _, got := range []*connecthub.Run{rescued[0], getRun(t, s, r.ID)} {
				if got.Status != connecthub.StatusQueued || got.Attempt != 2 {
					t.Errorf("rescued run is %s attempt %d, want QUEUED attempt 2", got.Status, got.Attempt)
				}
				checkTime(t, "available_at", now, got.AvailableAt)
				if len(got.Attempts) != 1 || got.Attempts[0].Error != connecthub.ReasonWorkerLost ||
					got.Attempts[0].Attempt != 1 || got.Attempts[0].Node != node1 {
					t.Errorf("attempts = %+v, want one %q entry for attempt 1 on %s", got.Attempts, connecthub.ReasonWorkerLost, node1)
				}
			}
			again := claim(t, s, store.RunClaimParams{Node: node2, Queues: []string{r.Queue}, Now: now})
			if len(again) != 1 || again[0].Attempt != 2 {
				t.Fatalf("re-claim = %+v", again)
			}
		},
		"FailsWithoutAttemptsLeft": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 1 })
			r := runningRun(t, s, j, node1, t0)
			now := t0.Add(time.Hour)
			rescued, err := s.RunRescue(t.Context(), now, 10)
			if err != nil || len(rescued) != 1 {
				t.Fatalf("RunRescue = %v, %v", ids(rescued), err)
			}
			for _, got := range []*connecthub.Run{rescued[0], getRun(t, s, r.ID)} {
				if got.Status != connecthub.StatusFailure || got.Error != connecthub.ReasonWorkerLost {
					t.Errorf("rescued run is %s with error %q, want FAILURE %q", got.Status, got.Error, connecthub.ReasonWorkerLost)
				}
				checkTimePtr(t, "finished_at", ptr(now), got.FinishedAt)
			}
		},
		"CancelRequestedEndsCanceled": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j", func(j *connecthub.Job) { j.MaxAttempts = 3 })
			r := runningRun(t, s, j, node1, t0)
			if _, err := s.RunCancel(t.Context(), r.ID, t0); err != nil {
				t.Fatal(err)
			}
			rescued, err := s.RunRescue(t.Context(), t0.Add(time.Hour), 10)
			if err != nil || len(rescued) != 1 {
				t.Fatalf("RunRescue = %v, %v", ids(rescued), err)
			}
			checkStatus(t, s, r.ID, connecthub.StatusCanceled)
		},
		"LeavesLiveLeases": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			expired := runningRun(t, s, j, node1, t0.Add(-time.Minute))
			exact := runningRun(t, s, j, node1, t0.Add(-ttl)) // expires exactly now
			live := runningRun(t, s, j, node1, t0)
			queuedRun(t, s, j, t0.Add(-time.Hour))
			rescued, err := s.RunRescue(t.Context(), t0, 10)
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "rescued", []string{expired.ID}, ids(rescued))
			for _, r := range []*connecthub.Run{exact, live} {
				got := checkStatus(t, s, r.ID, connecthub.StatusRunning)
				checkTimePtr(t, "lease_expires_at", r.LeaseExpiresAt, got.LeaseExpiresAt)
				if got.Attempt != 1 || got.Node != node1 {
					t.Errorf("untouched run changed: attempt %d node %s", got.Attempt, got.Node)
				}
			}
		},
		"Limit": func(t *testing.T, s store.Store) {
			j := newJob(t, s, "j")
			for range 3 {
				runningRun(t, s, j, node1, t0)
			}
			now := t0.Add(time.Hour)
			first, err := s.RunRescue(t.Context(), now, 2)
			if err != nil || len(first) != 2 {
				t.Fatalf("RunRescue(limit 2) = %d runs, %v", len(first), err)
			}
			rest, err := s.RunRescue(t.Context(), now, 2)
			if err != nil || len(rest) != 1 {
				t.Fatalf("second RunRescue = %d runs, %v", len(rest), err)
			}
			if none, err := s.RunRescue(t.Context(), now, 2); err != nil || len(none) != 0 {
				t.Fatalf("third RunRescue = %d runs, %v", len(none), err)
			}
			_, err = s.RunRescue(t.Context(), now, 0)
			requireKind(t, err, connecthub.KindInvalid)
		},
	})
}

// reclaimedRun returns a run of j (which must allow a second attempt) that
// node1 claimed at t0, lost to RunRescue an hour later, and claimed again:
// RUNNING on node1 in attempt 2, where attempt 1's worker may still speak.
func reclaimedRun(t *testing.T, s store.Store, j *connecthub.Job) *connecthub.Run {
	t.Helper()
	r := runningRun(t, s, j, node1, t0)
	rescueAt := t0.Add(time.Hour)
	rescued, err := s.RunRescue(t.Context(), rescueAt, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids(rescued), r.ID) {
		t.Fatalf("RunRescue did not rescue run %s: %v", r.ID, ids(rescued))
	}
	again := claim(t, s, store.RunClaimParams{Node: node1, Queues: []string{r.Queue}, Max: 1, Now: rescueAt})
	if len(again) != 1 || again[0].ID != r.ID || again[0].Attempt != 2 || again[0].Node != node1 {
		t.Fatalf("re-claim of run %s = %+v, want it in attempt 2 on %s", r.ID, again, node1)
	}
	return again[0]
}
