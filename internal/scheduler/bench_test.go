package scheduler

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/clock"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

// BenchmarkTick10k measures one pass over 10,000 enabled jobs that are all
// due in the same second, on a SQLite file: it must take under one second,
// or the slots of a busy minute fire late and the next pass starts behind.
// Each iteration moves the clock to the next minute, when every job is due
// again. The jobs use the default concurrency (forbid), so from the second
// iteration on each slot also checks for an active run and records SKIPPED,
// the realistic worst case.
func BenchmarkTick10k(b *testing.B) {
	const jobs = 10_000
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fake := clock.NewFake(t0)
	first := t0.Add(time.Minute)
	for i := range jobs {
		j := &connecthub.Job{
			ID: fmt.Sprintf("bench.job-%05d", i), Enabled: true, CronExpr: "0 * * * * *", Timezone: "Asia/Shanghai",
			Handler: "noop", PublicCfg: []byte(`{"n":1}`), MaxAttempts: 1, Concurrency: connecthub.ConcurrencyForbid,
			Misfire: connecthub.MisfireOnce, MisfireWindow: connecthub.DefaultMisfireWindow,
			Queue: connecthub.DefaultQueue, NextRunAt: &first, CreatedAt: t0, UpdatedAt: t0,
		}
		if err := st.JobCreate(ctx, j); err != nil {
			b.Fatal(err)
		}
	}
	s, err := New(Config{Store: st, Clock: fake})
	if err != nil {
		b.Fatal(err)
	}

	slot := first
	for b.Loop() {
		fake.Set(slot)
		n, err := s.Tick(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n != jobs {
			b.Fatalf("Tick inserted %d runs, want %d", n, jobs)
		}
		slot = slot.Add(time.Minute)
	}
	b.ReportMetric(float64(jobs), "runs/op")
	if perPass := b.Elapsed() / time.Duration(b.N); perPass >= time.Second {
		b.Errorf("a pass over %d due jobs took %v; it must take under 1s", jobs, perPass)
	}
}
