package sqlitestore

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	sqlite "modernc.org/sqlite"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// compileCounter counts, through SQLite's authorizer (which SQLite consults
// while it compiles a statement, and never while it runs one), the
// compilations of statements that update runs, by the column they set.
type compileCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *compileCounter) authorize(action sqlite.AuthorizerActionCode, table, column, _, _ string) sqlite.AuthorizerReturnCode {
	if action == sqlite.AuthUpdate && table == "runs" {
		c.mu.Lock()
		c.counts[column]++
		c.mu.Unlock()
	}
	return sqlite.AuthorizerOK
}

func (c *compileCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts := c.counts
	c.counts = map[string]int{}
	return counts
}

// countCompilations installs a compileCounter on the writer connection.
func countCompilations(t *testing.T, s *Store) *compileCounter {
	t.Helper()
	c := &compileCounter{counts: map[string]int{}}
	conn, err := s.w.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		return dc.(sqlite.AuthorizerRegisterer).RegisterAuthorizer(c.authorize)
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHotStatementsNotReprepared runs claims, heartbeats and completions of
// varying sizes through statements already cached, and checks that SQLite
// never compiles them again. A cached statement is re-prepared inside
// sqlite3_step when a parameter its plan depends on is bound to a new
// value: with `LIMIT ?`, SQLite 3.54 did that on every claim whose Max
// differed from the previous one, which cost a claim more than its work.
func TestHotStatementsNotReprepared(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ctx := context.Background()
	job := testJob("j")
	if err := s.JobCreate(ctx, job); err != nil {
		t.Fatal(err)
	}
	runs := make([]*connecthub.Run, 100)
	for i := range runs {
		runs[i] = connecthub.NewRun(job, connecthub.TriggerAPI, t0, t0, "")
	}
	if err := s.RunInsert(ctx, runs); err != nil {
		t.Fatal(err)
	}
	counter := countCompilations(t, s)

	// One round claims max runs, heartbeats and completes them.
	round := func(max int) {
		t.Helper()
		claimed, err := s.RunClaim(ctx, store.RunClaimParams{Node: "n", Queues: []string{connecthub.DefaultQueue},
			Max: max, LeaseTTL: time.Minute, Now: t0})
		if err != nil || len(claimed) != max {
			t.Fatalf("claim %d: %d runs, %v", max, len(claimed), err)
		}
		ids := make([]string, max)
		outcomes := make([]store.RunOutcome, max)
		for i, r := range claimed {
			ids[i] = r.ID
			outcomes[i] = store.RunOutcome{ID: r.ID, Node: "n", Status: connecthub.StatusSuccess, Now: t0, Attempt: r.Attempt}
		}
		if res, err := s.RunHeartbeat(ctx, store.RunHeartbeatParams{Node: "n", IDs: ids, LeaseTTL: time.Minute, Now: t0}); err != nil || len(res.Lost) != 0 {
			t.Fatalf("heartbeat: %+v, %v", res, err)
		}
		applied, err := s.RunComplete(ctx, outcomes)
		if err != nil {
			t.Fatal(err)
		}
		for i, ok := range applied {
			if !ok {
				t.Fatalf("outcome %d not applied", i)
			}
		}
	}
	// The first pass compiles every statement text the sizes need (and
	// those the authorizer expired when it was installed); the second
	// pass, with the same texts but Max changing from claim to claim as a
	// worker's free slots do, must compile nothing.
	sizes := []int{3, 5, 7, 1, 6, 2, 8, 4, 3}
	for _, max := range sizes {
		round(max)
	}
	if warm := counter.take(); warm["started_at"] == 0 || warm["finished_at"] == 0 || warm["heartbeat_at"] == 0 {
		t.Fatalf("the authorizer saw no compilation in the first pass (%v): the test counts nothing", warm)
	}
	for _, max := range sizes {
		round(max)
		if again := counter.take(); len(again) != 0 {
			t.Fatalf("a round of %d compiled statements again: %v", max, again)
		}
	}
}

// TestCompleteChunks: a batch of up to maxCompleteChunk outcomes is one
// statement, padded up to the next of a few sizes; a larger batch is cut
// into full statements and a padded rest.
func TestCompleteChunks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n           int
		rows, sizes []int
	}{
		{1, []int{1}, []int{1}},
		{3, []int{3}, []int{4}},
		{40, []int{40}, []int{48}},
		{47, []int{47}, []int{48}},
		{48, []int{48}, []int{48}},
		{50, []int{50}, []int{64}},
		{128, []int{128}, []int{128}},
		{334, []int{128, 128, 78}, []int{128, 128, 96}},
	}
	for _, tt := range tests {
		rows, sizes := completeChunks(tt.n)
		if !slices.Equal(rows, tt.rows) || !slices.Equal(sizes, tt.sizes) {
			t.Errorf("completeChunks(%d) = %v, %v; want %v, %v", tt.n, rows, sizes, tt.rows, tt.sizes)
		}
		for _, size := range sizes {
			if _, ok := completeBatchTexts[size]; !ok {
				t.Errorf("completeChunks(%d): no statement text of size %d", tt.n, size)
			}
		}
	}
}
