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
				checkTimePtr(t, "heartbeat_at", ptr(now), c.HeartbeatAt)
				checkTimePtr(t, "finished_at", nil, c.FinishedAt)
				checkTime(t, "updated_at", now, c.UpdatedAt)
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
