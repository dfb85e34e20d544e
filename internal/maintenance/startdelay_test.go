package maintenance_test

import (
	"context"
	"testing"
	"time"

	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/maintenance"
	"github.com/connecthub/connecthub/internal/testenv"
)

// TestCleanersWaitStartDelay: a cleaner with a StartDelay makes its first
// pass that long after Start (a starting server serves its queue first),
// then one every Interval after the end of the last; a negative StartDelay
// is refused.
func TestCleanersWaitStartDelay(t *testing.T) {
	t.Parallel()
	type starter func(ctx context.Context, clk clock.Clock, delay time.Duration, pass func()) (stop func(context.Context) error, err error)
	for _, tc := range []struct {
		name  string
		start starter
	}{
		{"audit", func(ctx context.Context, clk clock.Clock, delay time.Duration, pass func()) (func(context.Context) error, error) {
			c := maintenance.NewAuditCleaner(maintenance.AuditCleanerConfig{Interval: time.Hour, StartDelay: delay, Clock: clk,
				Purge: func(context.Context) (int64, error) { pass(); return 0, nil }})
			return c.Stop, c.Start(ctx)
		}},
		{"runs", func(ctx context.Context, clk clock.Clock, delay time.Duration, pass func()) (func(context.Context) error, error) {
			c, err := maintenance.NewRunCleaner(maintenance.RunCleanerConfig{Interval: time.Hour, StartDelay: delay, Clock: clk,
				Clean: func(context.Context, func(int64)) (maintenance.RunCleanReport, error) {
					pass()
					return maintenance.RunCleanReport{}, nil
				}})
			if err != nil {
				return nil, err
			}
			return c.Stop, c.Start(ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testenv.Context(t)
			clk := testenv.Clock()
			passes := make(chan struct{}, 4)
			stop, err := tc.start(ctx, clk, time.Minute, func() { passes <- struct{}{} })
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := stop(context.Background()); err != nil {
					t.Error(err)
				}
			}()
			waitPlan := func(want time.Time) {
				t.Helper()
				if err := clk.WaitFor(ctx, func(dl []time.Time) bool { return len(dl) == 1 && dl[0].Equal(want) }); err != nil {
					t.Fatalf("waiting for the next pass to be planned at %s: %v (planned %v)", want, err, clk.Deadlines())
				}
			}
			// Started, the cleaner waits for the delay, not for a pass.
			waitPlan(testenv.Epoch.Add(time.Minute))
			select {
			case <-passes:
				t.Fatal("a pass ran before the start delay")
			default:
			}
			clk.Advance(time.Minute)
			testenv.Wait(t, passes, "the first pass")
			waitPlan(testenv.Epoch.Add(time.Minute + time.Hour))
			clk.Advance(time.Hour)
			testenv.Wait(t, passes, "the second pass")
		})
	}
	for name, start := range map[string]func() error{
		"audit": func() error {
			return maintenance.NewAuditCleaner(maintenance.AuditCleanerConfig{StartDelay: -time.Second,
				Purge: func(context.Context) (int64, error) { return 0, nil }}).Start(t.Context())
		},
		"runs": func() error {
			_, err := maintenance.NewRunCleaner(maintenance.RunCleanerConfig{StartDelay: -time.Second,
				Clean: func(context.Context, func(int64)) (maintenance.RunCleanReport, error) {
					return maintenance.RunCleanReport{}, nil
				}})
			return err
		},
	} {
		if err := start(); err == nil {
			t.Errorf("%s: a cleaner with a negative start delay started", name)
		}
	}
}
