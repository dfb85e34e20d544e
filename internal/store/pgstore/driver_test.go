package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/testpg"
)

// These tests cover what only this driver has: the migration lock, the
// LISTEN connection, and the behaviour of the queue under concurrency on a
// real server. The storage contract itself is TestConformance's.

var now0 = time.Date(2031, 3, 14, 9, 26, 53, 0, time.UTC)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

// openURL opens a store on url, closed when the test ends.
func openURL(t testing.TB, url string, opts Options) *Store {
	t.Helper()
	opts = testOptions(opts)
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// connect opens a plain connection to url for the test's own SQL.
func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// embeddedVersions lists the versions of the embedded migrations.
func embeddedVersions(t *testing.T) []int64 {
	t.Helper()
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no embedded migrations: %v", err)
	}
	var versions []int64
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.ParseInt(base[:strings.IndexByte(base, '_')], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		versions = append(versions, v)
	}
	return versions
}

// eventually polls cond until it holds, failing the test after
// waitTimeout. It is for conditions only the server knows (who waits on a
// lock), which send no signal to wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// waitListener waits until the listener's state satisfies cond.
func waitListener(t *testing.T, s *Store, what string, cond func(listenSnapshot) bool) listenSnapshot {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		st, changed := s.listenState.get()
		if cond(st) {
			return st
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("timed out waiting for the listener: %s (state %+v)", what, st)
		}
	}
}

func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		t.Fatalf("no notification: %s", what)
	}
}

func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func testJob(id string) *connecthub.Job {
	return &connecthub.Job{
		ID: id, Enabled: true, Timezone: "UTC", Handler: "noop", PublicCfg: []byte(`{}`),
		MaxAttempts: 2, Concurrency: connecthub.ConcurrencyAllow, Misfire: connecthub.MisfireOnce,
		Queue: connecthub.DefaultQueue, CreatedAt: now0, UpdatedAt: now0,
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	const n = 4
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		applied = make([][]int64, n)
		errs    = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			applied[i], errs[i] = Migrate(t.Context(), url)
		})
	}
	close(start)
	wg.Wait()
	var all []int64
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Migrate %d: %v", i, errs[i])
		}
		all = append(all, applied[i]...)
	}
	slices.Sort(all)
	if want := embeddedVersions(t); !slices.Equal(all, want) {
		t.Fatalf("%d concurrent migrations applied %v between them, want each of %v once", n, all, want)
	}
	again, err := Migrate(t.Context(), url)
	if err != nil || len(again) != 0 {
		t.Fatalf("Migrate on a current schema = %v, %v; want nothing to do", again, err)
	}
	var dups int
	if err := connect(t, url).QueryRow(t.Context(), `SELECT count(*) FROM (SELECT version_id FROM goose_db_version
		WHERE version_id > 0 GROUP BY version_id HAVING count(*) > 1) d`).Scan(&dups); err != nil || dups != 0 {
		t.Fatalf("versions recorded twice: %d, %v", dups, err)
	}
}

// TestMigrateRefusesNewerSchema checks the rule both drivers share
// (store.Migrate): a schema a newer binary migrated is refused, not used.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	if _, err := Migrate(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	versions := embeddedVersions(t)
	if _, err := connect(t, url).Exec(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`,
		versions[len(versions)-1]+1); err != nil {
		t.Fatal(err)
	}
	_, err := Migrate(t.Context(), url)
	var ce *connecthub.Error
	if !errors.As(err, &ce) || ce.Kind != connecthub.KindUnavailable || ce.Code != "schema_too_new" {
		t.Fatalf("Migrate of a newer schema = %v, want schema_too_new", err)
	}
}

// TestMigrateLock shows that migrations wait for the holder of their
// schema's lock, do not wait for other schemas' locks, and stop waiting
// (in the server too) when their context ends.
func TestMigrateLock(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	holder := connect(t, url)
	var schema string
	if err := holder.QueryRow(t.Context(), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	lockID := migrationLockID(schema)
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_lock($1)", lockID); err != nil {
		t.Fatal(err)
	}
	waiters := func() int {
		var n int
		if err := holder.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
			AND NOT granted AND ((classid::bigint << 32) | objid::bigint) = $1`, lockID).Scan(&n); err != nil {
			t.Errorf("pg_locks: %v", err)
		}
		return n
	}

	// Another schema migrates while this one is locked.
	if _, err := Migrate(t.Context(), testpg.URL(t)); err != nil {
		t.Fatalf("Migrate of another schema while this one is locked: %v", err)
	}

	// A migration that gives up stops waiting in the server as well.
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := Migrate(ctx, url)
		gaveUp <- err
	}()
	eventually(t, "the first migration to wait for the lock", func() bool { return waiters() == 1 })
	cancel()
	if err := <-gaveUp; !connecthub.IsKind(err, connecthub.KindUnavailable) {
		t.Fatalf("Migrate with a canceled context = %v, want an unavailable error", err)
	}
	eventually(t, "the abandoned wait to end in the server", func() bool { return waiters() == 0 })

	// A patient one waits, then migrates once the lock is free.
	done := make(chan []int64, 1)
	go func() {
		v, err := Migrate(t.Context(), url)
		if err != nil {
			t.Errorf("Migrate: %v", err)
		}
		done <- v
	}()
	eventually(t, "the second migration to wait for the lock", func() bool { return waiters() == 1 })
	select {
	case v := <-done:
		t.Fatalf("Migrate ran (%v) while another session held the lock", v)
	default:
	}
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_unlock($1)", lockID); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-done:
		if want := embeddedVersions(t); !slices.Equal(v, want) {
			t.Fatalf("Migrate after the lock was released applied %v, want %v", v, want)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Migrate did not finish after the lock was released")
	}
}

func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	s := openURL(t, url, Options{})
	other := openURL(t, url, Options{}) // another replica
	runs, unsubscribe := s.Subscribe(store.TopicRuns)
	defer unsubscribe()
	jobs, unsubscribeJobs := s.Subscribe(store.TopicJobs)
	defer unsubscribeJobs()

	before, _ := s.listenState.get()
	if before.pid == 0 {
		t.Fatal("the listener is not connected after Open")
	}
	var killed bool
	if err := other.pool.QueryRow(t.Context(), "SELECT pg_terminate_backend($1)", before.pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", before.pid, killed, err)
	}
	after := waitListener(t, s, "reconnect after pg_terminate_backend", func(st listenSnapshot) bool {
		return st.pid != 0 && st.pid != before.pid
	})
	if after.gen < before.gen+2 {
		t.Errorf("generation %d -> %d, want a disconnect and a connect", before.gen, after.gen)
	}
	// Notifications sent while it was away are lost, so it wakes everyone.
	waitWake(t, runs, "runs topic after the reconnect")
	waitWake(t, jobs, "jobs topic after the reconnect")

	// And notifications from another replica flow again.
	if err := other.JobCreate(t.Context(), testJob("j")); err != nil {
		t.Fatal(err)
	}
	waitWake(t, jobs, "JobCreate on another replica")
	if err := other.RunInsert(t.Context(), []*connecthub.Run{connecthub.NewRun(testJob("j"), connecthub.TriggerManual, now0, now0, "")}); err != nil {
		t.Fatal(err)
	}
	waitWake(t, runs, "RunInsert on another replica")
}

// TestNotificationsScoped checks that a store ignores the notifications of
// stores in other schemas of the same database. PostgreSQL delivers
// notifications in commit order, so once a later notification from this
// schema has arrived, an earlier one from another schema that was not
// filtered out would have been published already.
func TestNotificationsScoped(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	s := openURL(t, url, Options{})
	replica := openURL(t, url, Options{})
	stranger := openURL(t, testpg.URL(t), Options{}) // another schema, same database
	runs, unsubscribe := s.Subscribe(store.TopicRuns)
	defer unsubscribe()
	jobs, unsubscribeJobs := s.Subscribe(store.TopicJobs)
	defer unsubscribeJobs()

	if err := stranger.JobCreate(t.Context(), testJob("j")); err != nil {
		t.Fatal(err)
	}
	if err := stranger.RunInsert(t.Context(), []*connecthub.Run{connecthub.NewRun(testJob("j"), connecthub.TriggerManual, now0, now0, "")}); err != nil {
		t.Fatal(err)
	}
	// A sentinel from this schema, committed after both.
	if err := replica.JobCreate(t.Context(), testJob("k")); err != nil {
		t.Fatal(err)
	}
	waitWake(t, jobs, "the replica's JobCreate")
	select {
	case <-runs:
		t.Fatal("s was woken by a run inserted in another schema")
	default:
	}
}

// TestDispatch checks which notifications the listener passes on.
func TestDispatch(t *testing.T) {
	t.Parallel()
	s := &Store{schema: "app", instance: "me"}
	tests := []struct {
		name, channel, payload string
		want                   store.Topic
	}{
		{"another replica", "connecthub_runs", "other app", store.TopicRuns},
		{"jobs", "connecthub_jobs", "other app", store.TopicJobs},
		{"cancel", "connecthub_cancel", "other app", store.TopicCancel},
		{"own echo", "connecthub_runs", "me app", ""},
		{"another schema", "connecthub_runs", "other app2", ""},
		{"schema prefix", "connecthub_runs", "other ap", ""},
		{"no schema", "connecthub_runs", "other", ""},
		{"unknown channel", "connecthub_other", "other app", ""},
	}
	for _, tt := range tests {
		subs := map[store.Topic]<-chan struct{}{}
		var unsubscribes []func()
		for _, topic := range allTopics {
			ch, unsubscribe := s.Subscribe(topic)
			unsubscribes = append(unsubscribes, unsubscribe)
			subs[topic] = ch
		}
		s.dispatch(&pgconn.Notification{Channel: tt.channel, Payload: tt.payload})
		for topic, ch := range subs {
			select {
			case <-ch:
				if topic != tt.want {
					t.Errorf("%s: woke %s, want %q", tt.name, topic, tt.want)
				}
			default:
				if topic == tt.want {
					t.Errorf("%s: did not wake %s", tt.name, topic)
				}
			}
		}
		for _, unsubscribe := range unsubscribes {
			unsubscribe()
		}
	}
}

// TestListenerIdleCheck runs the listener with a very short idle check: the
// pings must pass on a healthy connection, which then still delivers.
func TestListenerIdleCheck(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	s := openURL(t, url, Options{idleCheck: 10 * time.Millisecond})
	before, _ := s.listenState.get()
	after := waitListener(t, s, "three idle checks", func(st listenSnapshot) bool { return st.pings >= 3 })
	if after.pid != before.pid || after.gen != before.gen {
		t.Fatalf("the listener reconnected during idle checks: %+v -> %+v", before, after)
	}
	jobs, unsubscribe := s.Subscribe(store.TopicJobs)
	defer unsubscribe()
	if err := openURL(t, url, Options{}).JobCreate(t.Context(), testJob("j")); err != nil {
		t.Fatal(err)
	}
	waitWake(t, jobs, "JobCreate on another replica after idle checks")
}

// TestClaimRace has 10 claimers on two replicas take 2,000 runs of two
// queues in batches of random size: every run must be claimed exactly once,
// by the claimer that the database says holds it.
func TestClaimRace(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	replicas := []*Store{openURL(t, url, Options{}), openURL(t, url, Options{})}
	j := testJob("j")
	if err := replicas[0].JobCreate(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	const total, claimers = 2000, 10
	queues := []string{"a", "b"}
	batch := make([]*connecthub.Run, total)
	for i := range batch {
		r := connecthub.NewRun(j, connecthub.TriggerManual, now0, now0.Add(time.Duration(i)*time.Microsecond), "")
		r.Queue = queues[i%2]
		r.Priority = i % 7
		batch[i] = r
	}
	if err := replicas[1].RunInsert(t.Context(), batch); err != nil {
		t.Fatal(err)
	}

	var (
		mu  sync.Mutex
		got = make(map[string]string, total)
		wg  sync.WaitGroup
	)
	for c := range claimers {
		s := replicas[c%len(replicas)]
		node := fmt.Sprintf("claimer-%d", c)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for {
				runs, err := s.RunClaim(t.Context(), store.RunClaimParams{
					Node: node, Queues: queues, Max: 1 + rng.IntN(16), LeaseTTL: time.Minute, Now: now0.Add(time.Second),
				})
				if err != nil {
					t.Errorf("%s: RunClaim: %v", node, err)
					return
				}
				if len(runs) == 0 {
					return
				}
				mu.Lock()
				for _, r := range runs {
					if prev, ok := got[r.ID]; ok {
						t.Errorf("run %s claimed by %s and by %s", r.ID, prev, node)
					}
					got[r.ID] = node
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != total {
		t.Fatalf("claimed %d distinct runs, want %d", len(got), total)
	}
	rows, err := replicas[0].pool.Query(t.Context(), `SELECT id, status, node FROM runs`)
	if err != nil {
		t.Fatal(err)
	}
	var id, status, node string
	n, err := pgx.ForEachRow(rows, []any{&id, &status, &node}, func() error {
		if status != "RUNNING" || node != got[id] {
			return fmt.Errorf("run %s is %s on %q, but %q claimed it", id, status, node, got[id])
		}
		return nil
	})
	if err != nil || n.RowsAffected() != total {
		t.Fatalf("checked %d runs: %v", n.RowsAffected(), err)
	}
}

// TestRescueRace has two replicas rescue the same expired runs at once:
// SKIP LOCKED splits them, so each run is rescued once.
func TestRescueRace(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	replicas := []*Store{openURL(t, url, Options{}), openURL(t, url, Options{})}
	j := testJob("j")
	if err := replicas[0].JobCreate(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	const total = 300
	batch := make([]*connecthub.Run, total)
	for i := range batch {
		batch[i] = connecthub.NewRun(j, connecthub.TriggerManual, now0, now0, "")
	}
	if err := replicas[0].RunInsert(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if got, err := replicas[0].RunClaim(t.Context(), store.RunClaimParams{Node: "dead", Queues: []string{"default"},
		Max: total, LeaseTTL: time.Second, Now: now0}); err != nil || len(got) != total {
		t.Fatalf("claim: %d, %v", len(got), err)
	}
	var (
		mu      sync.Mutex
		rescued = map[string]int{}
		wg      sync.WaitGroup
	)
	for _, s := range replicas {
		for range 3 {
			wg.Go(func() {
				for {
					runs, err := s.RunRescue(t.Context(), now0.Add(time.Minute), 7)
					if err != nil {
						t.Errorf("RunRescue: %v", err)
						return
					}
					if len(runs) == 0 {
						return
					}
					mu.Lock()
					for _, r := range runs {
						rescued[r.ID]++
						if r.Status != connecthub.StatusQueued || r.Attempt != 2 {
							t.Errorf("rescued run %s is %s attempt %d, want QUEUED attempt 2", r.ID, r.Status, r.Attempt)
						}
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(rescued) != total {
		t.Fatalf("rescued %d runs, want %d", len(rescued), total)
	}
	for id, n := range rescued {
		if n != 1 {
			t.Fatalf("run %s rescued %d times", id, n)
		}
	}
}

// TestNoDeadlocks runs heartbeats, completions and replacing cron firings
// on the same runs at once, each in shuffled order. Without a common lock
// order PostgreSQL would find deadlocks and abort some of them (which the
// store reports as "busy").
func TestNoDeadlocks(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	const total = 400
	j := testJob("j")
	j.Concurrency = connecthub.ConcurrencyReplace
	slot := now0.Truncate(time.Minute)
	j.NextRunAt = &slot
	if err := s.JobCreate(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	batch := make([]*connecthub.Run, total)
	for i := range batch {
		batch[i] = connecthub.NewRun(j, connecthub.TriggerManual, now0, now0, "")
	}
	if err := s.RunInsert(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.RunClaim(t.Context(), store.RunClaimParams{Node: "n", Queues: []string{"default"}, Max: total, LeaseTTL: time.Hour, Now: now0})
	if err != nil || len(claimed) != total {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	ids := make([]string, total)
	for i, r := range claimed {
		ids[i] = r.ID
	}
	shuffled := func(seed uint64) []string {
		c := slices.Clone(ids)
		rand.New(rand.NewPCG(seed, 2)).Shuffle(len(c), func(a, b int) { c[a], c[b] = c[b], c[a] })
		return c
	}

	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() { // heartbeats
			for round := range 10 {
				if _, err := s.RunHeartbeat(t.Context(), store.RunHeartbeatParams{Node: "n", IDs: shuffled(uint64(w*100 + round)),
					LeaseTTL: time.Hour, Now: now0}); err != nil {
					t.Errorf("RunHeartbeat: %v", err)
					return
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() { // completions, in batches of 50
			order := shuffled(uint64(1000 + w))
			for k := 0; k < len(order); k += 50 {
				var outcomes []store.RunOutcome
				for _, id := range order[k:min(k+50, len(order))] {
					outcomes = append(outcomes, store.RunOutcome{ID: id, Node: "n", Status: connecthub.StatusSuccess, Now: now0})
				}
				if _, err := s.RunComplete(t.Context(), outcomes); err != nil {
					t.Errorf("RunComplete: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() { // a replacing firing: cancel requests for all RUNNING runs
		next := slot.Add(time.Minute)
		if _, err := s.JobsFire(t.Context(), []store.JobFireParams{{JobID: "j", PrevNextRunAt: slot, NextRunAt: &next,
			Concurrency: connecthub.ConcurrencyReplace, Runs: []*connecthub.Run{connecthub.NewRun(j, connecthub.TriggerCron, slot, now0, "")},
			Now: now0}}); err != nil {
			t.Errorf("JobsFire: %v", err)
		}
	})
	wg.Wait()
}

// TestJobsFireSameJobTwice fires one job twice in one call: the second
// firing sees the first's slot and run, as if the calls were separate.
func TestJobsFireSameJobTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		concurrency  string
		wantStatuses []connecthub.RunStatus
	}{
		{connecthub.ConcurrencyAllow, []connecthub.RunStatus{connecthub.StatusQueued, connecthub.StatusQueued}},
		{connecthub.ConcurrencyForbid, []connecthub.RunStatus{connecthub.StatusQueued, connecthub.StatusSkipped}},
		{connecthub.ConcurrencyReplace, []connecthub.RunStatus{connecthub.StatusCanceled, connecthub.StatusQueued}},
	}
	for _, tt := range tests {
		t.Run(tt.concurrency, func(t *testing.T) {
			t.Parallel()
			s := openTest(t, Options{})
			slot1 := now0.Truncate(time.Minute)
			slot2, slot3 := slot1.Add(time.Minute), slot1.Add(2*time.Minute)
			j := testJob("j")
			j.Concurrency = tt.concurrency
			j.NextRunAt = &slot1
			if err := s.JobCreate(t.Context(), j); err != nil {
				t.Fatal(err)
			}
			fire := func(prev, next time.Time) store.JobFireParams {
				return store.JobFireParams{JobID: "j", PrevNextRunAt: prev, NextRunAt: &next, LastRunAt: &prev,
					Concurrency: tt.concurrency, Now: prev.Add(time.Second),
					Runs: []*connecthub.Run{connecthub.NewRun(j, connecthub.TriggerCron, prev, prev.Add(time.Second), "")}}
			}
			res, err := s.JobsFire(t.Context(), []store.JobFireParams{
				fire(slot1, slot2),
				fire(slot1, slot2), // stale by then: not applied
				fire(slot2, slot3),
			})
			if err != nil {
				t.Fatal(err)
			}
			if !res[0].Applied || res[1].Applied || !res[2].Applied {
				t.Fatalf("applied = %v %v %v, want true false true", res[0].Applied, res[1].Applied, res[2].Applied)
			}
			for k, i := range []int{0, 2} {
				r, err := s.RunGet(t.Context(), res[i].RunIDs[0])
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != tt.wantStatuses[k] {
					t.Errorf("run of firing %d is %s, want %s", i, r.Status, tt.wantStatuses[k])
				}
			}
			got, err := s.JobGet(t.Context(), "j")
			if err != nil || got.NextRunAt == nil || !got.NextRunAt.Equal(slot3) {
				t.Fatalf("next_run_at = %v, %v; want %s", got.NextRunAt, err, slot3)
			}
		})
	}
}

// TestJobsFireMany fires thousands of jobs in one call, as a scheduler
// catching up on a busy minute does.
func TestJobsFireMany(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	const n = 3000
	slot := now0.Truncate(time.Minute)
	// Jobs straight into the table: creating them one by one would be most
	// of the test's time.
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO jobs (id, handler, concurrency, next_run_at, created_at, updated_at)
		SELECT 'job-' || lpad(i::text, 5, '0'), 'noop', CASE WHEN i % 2 = 0 THEN 'forbid' ELSE 'allow' END, $1, $1, $1
		FROM generate_series(0, $2 - 1) AS i`, slot, n); err != nil {
		t.Fatal(err)
	}
	// Every other forbid job is busy: its slot is recorded SKIPPED.
	var busy []*connecthub.Run
	for i := 0; i < n; i += 4 {
		busy = append(busy, connecthub.NewRun(testJob(fmt.Sprintf("job-%05d", i)), connecthub.TriggerManual, now0, now0, ""))
	}
	if err := s.RunInsert(t.Context(), busy); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.JobListDue(t.Context(), slot, n)
	if err != nil || len(jobs) != n {
		t.Fatalf("JobListDue: %d, %v", len(jobs), err)
	}
	next := slot.Add(time.Minute)
	fires := make([]store.JobFireParams, len(jobs))
	for i, j := range jobs {
		fires[i] = store.JobFireParams{JobID: j.ID, PrevNextRunAt: slot, NextRunAt: &next, LastRunAt: &slot,
			Concurrency: j.Concurrency, Now: now0, Runs: []*connecthub.Run{connecthub.NewRun(j, connecthub.TriggerCron, slot, now0, "")}}
	}
	start := time.Now()
	res, err := s.JobsFire(t.Context(), fires)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("JobsFire of %d jobs took %s", n, time.Since(start))
	var inserted, skipped int
	for i, r := range res {
		if !r.Applied {
			t.Fatalf("firing %d (%s) not applied", i, fires[i].JobID)
		}
		inserted += r.Inserted
		skipped += r.Skipped
	}
	if wantSkipped := len(busy); inserted != n-wantSkipped || skipped != wantSkipped {
		t.Fatalf("inserted %d and skipped %d, want %d and %d", inserted, skipped, n-wantSkipped, wantSkipped)
	}
	if due, err := s.JobNextDue(t.Context()); err != nil || due == nil || !due.Equal(next) {
		t.Fatalf("JobNextDue = %v, %v; want %s", due, err, next)
	}
}

// TestTextPostgresCannotStore covers what PostgreSQL text refuses (NUL
// bytes, invalid UTF-8): handler output is made storable, logs are kept
// byte for byte, and job fields are rejected with their name.
func TestTextPostgresCannotStore(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	bad := testJob("j")
	bad.Description = "nul\x00inside"
	err := s.JobCreate(t.Context(), bad)
	var ce *connecthub.Error
	if !errors.As(err, &ce) || ce.Kind != connecthub.KindInvalid || ce.Field != "description" {
		t.Fatalf("JobCreate with a NUL in the description = %v, want an invalid description", err)
	}
	j := testJob("j")
	if err := s.JobCreate(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	if err := s.RunInsert(t.Context(), []*connecthub.Run{connecthub.NewRun(j, connecthub.TriggerManual, now0, now0, "")}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.RunClaim(t.Context(), store.RunClaimParams{Node: "n", Queues: []string{"default"}, Max: 1, LeaseTTL: time.Minute, Now: now0})
	if err != nil || len(runs) != 1 {
		t.Fatalf("claim: %v, %v", runs, err)
	}
	id := runs[0].ID
	log := "binary \x00\xff\xfe and \xe4\xb8 cut UTF-8\n"
	if err := s.RunLogAppend(t.Context(), id, log); err != nil {
		t.Fatalf("RunLogAppend of binary output: %v", err)
	}
	if c, err := s.RunLogRead(t.Context(), id, 0); err != nil || c.Data != log {
		t.Fatalf("RunLogRead = %q, %v; want the bytes as written", c.Data, err)
	}
	applied, err := s.RunComplete(t.Context(), []store.RunOutcome{{ID: id, Node: "n", Status: connecthub.StatusFailure,
		Message: "m\x00", Error: "e\xff", Traceback: "t\x00\xfe", Result: []byte(`{"k":"v"}`), Now: now0}})
	if err != nil || !applied[0] {
		t.Fatalf("RunComplete with odd bytes = %v, %v", applied, err)
	}
	r, err := s.RunGet(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Message != "m\uFFFD" || r.Error != "e\uFFFD" || r.Traceback != "t\uFFFD\uFFFD" || string(r.Result) != `{"k":"v"}` {
		t.Errorf("stored message=%q error=%q traceback=%q result=%s", r.Message, r.Error, r.Traceback, r.Result)
	}
}

func TestSchemaOption(t *testing.T) {
	t.Parallel()
	serverURL, existing := testpg.Schema(t)
	// A schema that does not exist yet, dropped after the test.
	fresh := "o" + existing[1:]
	admin := connect(t, serverURL)
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+fresh+" CASCADE"); err != nil {
			t.Errorf("drop %s: %v", fresh, err)
		}
	})
	for _, schema := range []string{existing, fresh} {
		s := openURL(t, serverURL, Options{Schema: schema, MaxConns: 2})
		if s.Schema() != schema {
			t.Errorf("Schema() = %q, want %q", s.Schema(), schema)
		}
		if err := s.JobCreate(t.Context(), testJob("j")); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := admin.QueryRow(t.Context(), "SELECT count(*) FROM "+schema+".jobs").Scan(&n); err != nil || n != 1 {
			t.Fatalf("jobs in schema %s: %d, %v", schema, n, err)
		}
	}
	// Reopening finds the schema current.
	openURL(t, serverURL, Options{Schema: fresh})
	// The URL's search_path names the schema, too.
	url := serverURL + "&search_path=" + fresh
	if !strings.Contains(serverURL, "?") {
		url = serverURL + "?search_path=" + fresh
	}
	if v, err := Migrate(t.Context(), url); err != nil || len(v) != 0 {
		t.Fatalf("Migrate of a current schema by search_path = %v, %v", v, err)
	}
	if s := openURL(t, url, Options{}); s.Schema() != fresh {
		t.Errorf("Schema() from search_path = %q, want %q", s.Schema(), fresh)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		opts Options
		kind connecthub.Kind
	}{
		{"empty URL", "", Options{}, connecthub.KindInvalid},
		{"bad URL", "postgres://user:hunter2@127.0.0.1:notaport/db", Options{}, connecthub.KindInvalid},
		{"negative pool", "postgres://127.0.0.1/db", Options{MaxConns: -1}, connecthub.KindInvalid},
		{"negative min pool", "postgres://127.0.0.1/db", Options{MinConns: -1}, connecthub.KindInvalid},
		{"min pool over max", "postgres://127.0.0.1/db", Options{MaxConns: 2, MinConns: 3}, connecthub.KindInvalid},
		{"bad schema", "postgres://127.0.0.1/db", Options{Schema: "drop table; --"}, connecthub.KindInvalid},
		{"long schema", "postgres://127.0.0.1/db", Options{Schema: strings.Repeat("s", 64)}, connecthub.KindInvalid},
		{"nobody listening", "postgres://user:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", Options{}, connecthub.KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(t.Context(), tt.url, tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !connecthub.IsKind(err, tt.kind) {
				t.Fatalf("Open = %v, want a %s error", err, tt.kind)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	t.Run("search_path names no schema", func(t *testing.T) {
		t.Parallel()
		serverURL, schema := testpg.Schema(t)
		sep := "?"
		if strings.Contains(serverURL, "?") {
			sep = "&"
		}
		_, err := Open(t.Context(), serverURL+sep+"search_path=missing_"+schema, Options{})
		if !connecthub.IsKind(err, connecthub.KindInvalid) {
			t.Fatalf("Open = %v, want an invalid error", err)
		}
	})
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.listenState.get(); st.pid != 0 {
		t.Errorf("the listener is still connected (pid %d) after Close", st.pid)
	}
	calls := map[string]error{}
	calls["Ping"] = s.Ping(t.Context())
	_, calls["JobGet"] = s.JobGet(t.Context(), "j")
	calls["JobCreate"] = s.JobCreate(t.Context(), testJob("j"))
	_, calls["JobUpdate"] = s.JobUpdate(t.Context(), "j", func(*connecthub.Job) error { return nil })
	_, calls["RunClaim"] = s.RunClaim(t.Context(), store.RunClaimParams{Node: "n", Queues: []string{"q"}, Max: 1, LeaseTTL: time.Second, Now: now0})
	_, calls["RunComplete"] = s.RunComplete(t.Context(), []store.RunOutcome{{ID: "r", Node: "n", Status: connecthub.StatusSuccess, Now: now0}})
	_, calls["Stats"] = s.Stats(t.Context(), now0)
	for name, err := range calls {
		var ce *connecthub.Error
		if !errors.As(err, &ce) || ce.Kind != connecthub.KindUnavailable || ce.Code != "db_closed" {
			t.Errorf("%s after Close = %v, want db_closed", name, err)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	const sqlText = `UPDATE runs SET secret = 'x'`
	tests := []struct {
		code    string
		kind    connecthub.Kind
		failure string // what store.StoreFailure says of the mapped error
	}{
		{"23505", connecthub.KindConflict, ""},
		{"23503", connecthub.KindNotFound, ""},
		{"40001", connecthub.KindUnavailable, ""},
		{"40P01", connecthub.KindUnavailable, ""},
		{"57014", connecthub.KindUnavailable, ""},
		{"57P01", connecthub.KindUnavailable, store.CodeDBUnavailable},
		{"53300", connecthub.KindUnavailable, store.CodeDBUnavailable},
		{"08006", connecthub.KindUnavailable, store.CodeDBUnavailable},
		{"53100", connecthub.KindUnavailable, store.CodeStorageError}, // disk_full
		{"25006", connecthub.KindUnavailable, store.CodeStorageError}, // read_only_sql_transaction
		{"58030", connecthub.KindUnavailable, store.CodeStorageError}, // io_error
		{"22021", connecthub.KindInvalid, ""},
		{"42P01", connecthub.KindUnavailable, ""},
		{"42601", connecthub.KindInternal, ""},
	}
	for _, tt := range tests {
		pgErr := &pgconn.PgError{Code: tt.code, Message: "near " + sqlText, Detail: sqlText, InternalQuery: sqlText}
		err := dbErr(fmt.Errorf("exec: %w", pgErr))
		var ce *connecthub.Error
		if !errors.As(err, &ce) || ce.Kind != tt.kind {
			t.Errorf("SQLSTATE %s -> %v, want a %s error", tt.code, err, tt.kind)
			continue
		}
		if strings.Contains(ce.Error(), "UPDATE") || strings.Contains(ce.Error(), "secret") {
			t.Errorf("SQLSTATE %s: the message shows SQL: %q", tt.code, ce.Error())
		}
		if !errors.Is(err, pgErr) {
			t.Errorf("SQLSTATE %s: the cause is not kept for logs", tt.code)
		}
		if got := store.StoreFailure(err); got != tt.failure {
			t.Errorf("SQLSTATE %s: StoreFailure = %q, want %q", tt.code, got, tt.failure)
		}
	}
	for _, err := range []error{context.Canceled, context.DeadlineExceeded, errStoreClosed} {
		if got := dbErr(err); !connecthub.IsKind(got, connecthub.KindUnavailable) {
			t.Errorf("dbErr(%v) = %v, want unavailable", err, got)
		}
	}
	if got := dbErr(errors.New("surprise")); !connecthub.IsKind(got, connecthub.KindInternal) || got.Error() != "database error" {
		t.Errorf("dbErr(unknown) = %v, want an internal \"database error\"", got)
	}
	own := connecthub.NotFound("job", "j")
	if got := dbErr(own); got != error(own) {
		t.Errorf("dbErr changed a *connecthub.Error: %v", got)
	}
}

// TestJobsFireLosesSlotToConcurrentInsert has a cron run for the slot
// inserted by someone else after JobsFire looked for it and before its own
// insert: the slot counts as a duplicate and the firing still succeeds.
func TestJobsFireLosesSlotToConcurrentInsert(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	s := openURL(t, url, Options{})
	slot := now0.Truncate(time.Minute)
	j := testJob("j")
	j.NextRunAt = &slot
	if err := s.JobCreate(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	// The other writer: its cron run for the slot is inserted, not committed.
	other := connect(t, url)
	tx, err := other.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var cols runRows
	r := connecthub.NewRun(j, connecthub.TriggerCron, slot, now0, "")
	r.ID = "01J00000000000000000000000"
	if err := cols.add(r); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), insertRunsSQL, cols.args()...); err != nil {
		t.Fatal(err)
	}

	next := slot.Add(time.Minute)
	mine := connecthub.NewRun(j, connecthub.TriggerCron, slot, now0, "")
	type result struct {
		res []store.JobFireResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := s.JobsFire(t.Context(), []store.JobFireParams{{JobID: "j", PrevNextRunAt: slot, NextRunAt: &next,
			Concurrency: connecthub.ConcurrencyAllow, Runs: []*connecthub.Run{mine}, Now: now0}})
		done <- result{res, err}
	}()
	// JobsFire found the slot free and now waits on the other writer's row.
	otherPID := other.PgConn().PID()
	observer := connect(t, url)
	eventually(t, "JobsFire to wait for the other insert", func() bool {
		var n int
		if err := observer.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
			otherPID).Scan(&n); err != nil {
			t.Errorf("pg_stat_activity: %v", err)
		}
		return n > 0
	})
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got.err != nil {
		t.Fatalf("JobsFire: %v", got.err)
	}
	if res := got.res[0]; !res.Applied || res.Inserted != 0 || res.Skipped != 0 || res.Duplicates != 1 || len(res.RunIDs) != 0 {
		t.Fatalf("result = %+v, want applied with one duplicate", res)
	}
	if mine.ID != "" {
		t.Errorf("the run that was not inserted got id %s", mine.ID)
	}
	if n, err := s.RunActiveCount(t.Context(), "j"); err != nil || n != 1 {
		t.Errorf("active runs = %d, %v; want only the other writer's", n, err)
	}
}
