package pgstore

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/testpg"
)

// TestNodeMarkDeadRace runs the reapers of two replicas at once, while the
// dead node, which does not know it is dead, is completing its runs. Every
// node must be marked once, and every run must end exactly one way:
// completed by its node, or rescued, never both and never neither.
func TestNodeMarkDeadRace(t *testing.T) {
	t.Parallel()
	url := testpg.URL(t)
	replicas := []*Store{openURL(t, url, Options{}), openURL(t, url, Options{})}
	ctx := t.Context()
	j := testJob("j")
	if err := replicas[0].JobCreate(ctx, j); err != nil {
		t.Fatal(err)
	}
	const nodes, perNode = 8, 40
	silent := now0.Add(-time.Hour)
	var runs []*connecthub.Run
	for i := range nodes {
		name := fmt.Sprintf("dead-%d", i)
		if err := replicas[0].NodeUpsert(ctx, &connecthub.Node{Name: name, PresentState: connecthub.NodeActive,
			RegisteredAt: silent, LastHeartbeat: silent}); err != nil {
			t.Fatal(err)
		}
		batch := make([]*connecthub.Run, perNode)
		for k := range batch {
			batch[k] = connecthub.NewRun(j, connecthub.TriggerManual, now0, now0, "")
			batch[k].Queue = name
		}
		if err := replicas[0].RunInsert(ctx, batch); err != nil {
			t.Fatal(err)
		}
		claimed, err := replicas[0].RunClaim(ctx, store.RunClaimParams{Node: name, Queues: []string{name},
			Max: perNode, LeaseTTL: time.Hour, Now: now0})
		if err != nil || len(claimed) != perNode {
			t.Fatalf("claim on %s: %d, %v", name, len(claimed), err)
		}
		runs = append(runs, claimed...)
	}
	rand.Shuffle(len(runs), func(a, b int) { runs[a], runs[b] = runs[b], runs[a] })

	var (
		mu        sync.Mutex
		marked    = map[string]int{}
		rescued   = map[string]int{}
		completed = map[string]bool{}
		wg        sync.WaitGroup
		// The reapers start once the completions are under way, so that
		// both happen at once.
		going = make(chan struct{})
	)
	for _, s := range replicas {
		for range 3 {
			wg.Go(func() {
				<-going
				dead, got, err := s.NodeMarkDead(ctx, now0.Add(-time.Minute), now0)
				if err != nil {
					t.Errorf("NodeMarkDead: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, n := range dead {
					marked[n.Name]++
				}
				for _, r := range got {
					rescued[r.ID]++
				}
			})
		}
	}
	wg.Go(func() {
		defer func() {
			select {
			case <-going:
			default:
				close(going) // a failure before the signal must not leave the reapers waiting
			}
		}()
		for i := 0; i < len(runs); i += 10 {
			if i == 30 {
				close(going)
			}
			batch := runs[i:min(i+10, len(runs))]
			outcomes := make([]store.RunOutcome, len(batch))
			for k, r := range batch {
				outcomes[k] = store.RunOutcome{ID: r.ID, Node: r.Node, Status: connecthub.StatusSuccess, Now: now0, Attempt: r.Attempt}
			}
			applied, err := replicas[1].RunComplete(ctx, outcomes)
			if err != nil {
				t.Errorf("RunComplete: %v", err)
				return
			}
			mu.Lock()
			for k, ok := range applied {
				if ok {
					completed[batch[k].ID] = true
				}
			}
			mu.Unlock()
		}
	})
	wg.Wait()

	if len(completed) == 0 || len(rescued) == 0 {
		t.Logf("no overlap this time: %d runs completed, %d rescued", len(completed), len(rescued))
	}
	if len(marked) != nodes {
		t.Errorf("marked %d nodes, want %d", len(marked), nodes)
	}
	for name, n := range marked {
		if n != 1 {
			t.Errorf("node %s marked %d times", name, n)
		}
	}
	for _, r := range runs {
		n, done := rescued[r.ID], completed[r.ID]
		got, err := replicas[0].RunGet(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case n > 1:
			t.Errorf("run %s rescued %d times", r.ID, n)
		case n == 1 && done:
			t.Errorf("run %s was both rescued and completed", r.ID)
		case n == 0 && !done:
			t.Errorf("run %s was neither rescued nor completed: %s", r.ID, got.Status)
		case done && got.Status != connecthub.StatusSuccess:
			t.Errorf("completed run %s is %s", r.ID, got.Status)
		case n == 1 && (got.Status != connecthub.StatusQueued || got.Attempt != 2):
			t.Errorf("rescued run %s is %s attempt %d, want QUEUED attempt 2", r.ID, got.Status, got.Attempt)
		}
	}
}
