package cli_test

import (
	"context"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/testpg"
)

// replicaEnv is the configuration shared by replicas of one deployment: one
// PostgreSQL database and one Fernet key file (replicas must share the key,
// or one could not read the secrets another saved).
func replicaEnv(t *testing.T) map[string]string {
	return map[string]string{
		"CONNECTHUB_DB_URL":          testpg.URL(t),
		"CONNECTHUB_FERNET_KEY_PATH": filepath.Join(t.TempDir(), "fernet.key"),
	}
}

// TestReplicasFireEachSlotOnce runs three serve replicas on one PostgreSQL
// database with an every-second cron and checks that each slot of at least
// 30 seconds fired exactly once, with no gap, while one replica is stopped
// and started again in the middle.
func TestReplicasFireEachSlotOnce(t *testing.T) {
	t.Parallel()
	env := replicaEnv(t)
	var counts sync.Map // run id -> *int
	var mu sync.Mutex
	count := handler.Spec{Name: "test.count", Func: func(_ context.Context, tk *handler.Task) (*handler.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		v, _ := counts.LoadOrStore(tk.RunID, new(int))
		*v.(*int)++
		return &handler.Result{Message: "counted"}, nil
	}}
	replicas := make([]*server, 3)
	for i := range replicas {
		replicas[i] = startServer(t, t.TempDir(), env, count)
	}
	replicas[0].createJob(`{"id":"tick","handler":"test.count","cron_expr":"* * * * * *","concurrency":"allow"}`)
	ctx := context.Background()
	cronRuns := func() []connecthub.Run {
		var all []connecthub.Run
		cursor := ""
		for {
			q := map[string][]string{"job_id": {"tick"}, "trigger": {"cron"}, "limit": {"500"}}
			if cursor != "" {
				q["cursor"] = []string{cursor}
			}
			page, err := replicas[0].client.ListRuns(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Runs...)
			if page.NextCursor == "" {
				return all
			}
			cursor = page.NextCursor
		}
	}
	waitFor(t, "10 slots", 60*time.Second, func() bool { return len(cronRuns()) >= 10 })
	// Stop one replica mid-way (graceful), let the others carry on, then
	// start a new replica in its place.
	if code := replicas[1].stop(); code != 0 {
		t.Fatalf("replica stop exit %d", code)
	}
	waitFor(t, "20 slots", 60*time.Second, func() bool { return len(cronRuns()) >= 20 })
	replicas[1] = startServer(t, t.TempDir(), env, count)
	waitFor(t, "35 slots", 60*time.Second, func() bool { return len(cronRuns()) >= 35 })
	if _, err := replicas[0].client.SetJobEnabled(ctx, "tick", false); err != nil {
		t.Fatal(err)
	}
	runs := cronRuns()
	// Every run of every slot reaches SUCCESS and ran exactly once.
	waitFor(t, "all cron runs terminal", 30*time.Second, func() bool {
		runs = cronRuns()
		for _, r := range runs {
			if !r.Status.Terminal() {
				return false
			}
		}
		return true
	})
	slots := make([]time.Time, 0, len(runs))
	seen := map[time.Time]bool{}
	for _, r := range runs {
		if seen[r.ScheduledFor] {
			t.Errorf("slot %s fired twice", r.ScheduledFor)
		}
		seen[r.ScheduledFor] = true
		slots = append(slots, r.ScheduledFor)
		if r.Status != connecthub.StatusSuccess || r.Attempt != 1 {
			t.Errorf("run %s of slot %s: %s attempt %d", r.ID, r.ScheduledFor, r.Status, r.Attempt)
		}
		v, ok := counts.Load(r.ID)
		if !ok || *v.(*int) != 1 {
			n := 0
			if ok {
				n = *v.(*int)
			}
			t.Errorf("run %s executed %d times", r.ID, n)
		}
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].Before(slots[j]) })
	for i := 1; i < len(slots); i++ {
		if gap := slots[i].Sub(slots[i-1]); gap != time.Second {
			t.Errorf("gap of %s between slots %s and %s", gap, slots[i-1], slots[i])
		}
	}
	if len(slots) < 30 {
		t.Fatalf("only %d slots", len(slots))
	}
}

// TestReplicasClaimEachRunOnce enqueues many runs through three replicas'
// APIs and checks that their workers, claiming concurrently from one
// database, run every run exactly once.
func TestReplicasClaimEachRunOnce(t *testing.T) {
	t.Parallel()
	env := replicaEnv(t)
	// Nothing here is rescued: a lease long enough that a loaded machine
	// delaying heartbeats by seconds cannot turn a run into "worker lost".
	env["CONNECTHUB_LEASE_TTL"] = "30s"
	var mu sync.Mutex
	counts := map[string]int{}
	count := handler.Spec{Name: "test.count", Func: func(_ context.Context, tk *handler.Task) (*handler.Result, error) {
		mu.Lock()
		counts[tk.RunID]++
		mu.Unlock()
		return &handler.Result{}, nil
	}}
	replicas := make([]*server, 3)
	for i := range replicas {
		replicas[i] = startServer(t, t.TempDir(), env, count)
	}
	replicas[0].createJob(`{"id":"many","handler":"test.count"}`)
	const n = 300
	ids := make([]string, 0, n)
	var idMu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(s *server) {
			defer wg.Done()
			r, err := s.client.RunJob(context.Background(), "many")
			if err != nil {
				t.Error(err)
				return
			}
			idMu.Lock()
			ids = append(ids, r.ID)
			idMu.Unlock()
		}(replicas[i%3])
	}
	wg.Wait()
	nodes := map[string]int{}
	for _, id := range ids {
		r := replicas[0].waitStatus(id, connecthub.StatusSuccess)
		nodes[r.Node]++
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("run %s executed %d times", id, counts[id])
		}
	}
	if len(counts) != n {
		t.Errorf("%d runs executed, want %d", len(counts), n)
	}
	if len(nodes) < 2 {
		t.Logf("all runs went to one node (possible, but unusual): %v", nodes)
	}
	t.Logf("runs per node: %v", nodes)
}

// TestReplicaKilledMidRunIsRescued kills a replica process with SIGKILL while
// it runs a job and checks that another replica rescues the run.
func TestReplicaKilledMidRunIsRescued(t *testing.T) {
	t.Parallel()
	env := replicaEnv(t)
	a := startProc(t, t.TempDir(), env)
	ctx := context.Background()
	if _, err := a.client.CreateJob(ctx, []byte(`{"id":"nap","handler":"sleep","public_cfg":{"seconds":2},"max_attempts":2,"retry_backoff":"10ms"}`)); err != nil {
		t.Fatal(err)
	}
	r, err := a.client.RunJob(ctx, "nap")
	if err != nil {
		t.Fatal(err)
	}
	running := a.waitRun(r.ID, "RUNNING", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusRunning })
	// Kill a before starting b: starting a process can take longer than the
	// handler's sleep on a loaded machine, and a run that a finished before
	// the kill would prove nothing.
	a.signal(syscall.SIGKILL)
	a.wait()
	b := startProc(t, t.TempDir(), env)
	done := b.waitRun(r.ID, "SUCCESS", func(r *connecthub.Run) bool { return r.Status == connecthub.StatusSuccess })
	if done.Node == running.Node || done.Attempt != 2 {
		t.Errorf("rescued run: node %s (dead node %s), attempt %d", done.Node, running.Node, done.Attempt)
	}
	b.signal(syscall.SIGTERM)
	if code := b.wait(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
