package maintenance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/maintenance"
	"github.com/connecthub/connecthub/internal/testenv"
)

func TestStatsCompactorConfig(t *testing.T) {
	t.Parallel()
	if _, err := maintenance.NewStatsCompactor(maintenance.StatsCompactorConfig{}); err == nil || !strings.Contains(err.Error(), "Store is required") {
		t.Errorf("no store: err = %v", err)
	}
	if _, err := maintenance.NewStatsCompactor(maintenance.StatsCompactorConfig{Store: testenv.SQLite(t), Interval: -time.Second}); err == nil ||
		!strings.Contains(err.Error(), "Interval must be > 0") {
		t.Errorf("negative interval: err = %v", err)
	}
}

// TestStatsCompactorLoop runs the real compactor on a fake clock over a
// real store: a pass one Interval after Start prunes the hours older than
// store.HourlyRetention at the clock's now, and leaves the totals alone.
func TestStatsCompactorLoop(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	st, clk := testenv.SQLite(t), testenv.Clock()
	j := testenv.Job(t, st, "job", "h", nil)
	old := clk.Now().Add(-3 * 24 * time.Hour)
	r := connecthub.NewRun(j, connecthub.TriggerManual, old, old, "")
	r.Status, r.StartedAt, r.FinishedAt = connecthub.StatusSuccess, &old, &old
	if err := st.RunInsert(ctx, []*connecthub.Run{r}); err != nil {
		t.Fatal(err)
	}
	hours := func() int {
		c, err := st.RunCounts(ctx, old.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if c.Totals()[connecthub.StatusSuccess] != 1 {
			t.Fatalf("totals = %v, want the one run", c.Totals())
		}
		return len(c.ByHour)
	}
	if n := hours(); n != 1 {
		t.Fatalf("hours before a pass = %d, want 1", n)
	}
	c, err := maintenance.NewStatsCompactor(maintenance.StatsCompactorConfig{Store: st, Interval: time.Second, Clock: clk, Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := clk.BlockUntilTimersContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if err := clk.BlockUntilTimersContext(ctx, 1); err != nil { // the pass ended, the next is armed
		t.Fatal(err)
	}
	if n := hours(); n != 0 {
		t.Errorf("hours after a pass = %d, want the old hour pruned", n)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// failingCompactStore fails every pass and signals it.
type failingCompactStore struct{ calls chan time.Time }

func (f failingCompactStore) StatsCompact(_ context.Context, now time.Time) error {
	f.calls <- now
	return connecthub.Errorf(connecthub.KindUnavailable, "database down")
}

// TestStatsCompactorKeepsGoing checks that a failing pass is retried at the
// next Interval, with the clock's time.
func TestStatsCompactorKeepsGoing(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	clk := testenv.Clock()
	f := failingCompactStore{calls: make(chan time.Time, 2)}
	c, err := maintenance.NewStatsCompactor(maintenance.StatsCompactorConfig{Store: f, Interval: time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	for range 2 {
		if err := clk.BlockUntilTimersContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		select {
		case now := <-f.calls:
			if !now.Equal(clk.Now().UTC()) {
				t.Errorf("pass at %s, want the clock's %s", now, clk.Now())
			}
		case <-ctx.Done():
			t.Fatal("no pass")
		}
	}
}
