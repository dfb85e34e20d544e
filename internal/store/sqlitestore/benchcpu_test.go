//go:build unix

package sqlitestore

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// BenchmarkCompleteAndClaim measures the queue's hot path as a node with
// 50 workers drives it: 20,000 queued runs, claimed a batch at a time,
// each batch's outcomes recorded with the next claim in one
// RunCompleteAndClaim call. A batch is 40 runs (the figures of earlier
// work) and 49 (what the harness's calls carry with 50 workers: 20,000
// runs in about 405 calls). It reports the process's CPU time per run
// (user and system, which other work on a shared machine disturbs far
// less than the wall time) and runs per second.
//
// The without= cases measure the same calls on a schema with indexes
// dropped that the history reads need, to show what the queue's writes
// cost without them: the floor that no tuning of the statements can go
// below while a run is a row with these indexes
// (docs/benchmarks-sqlite.md, "The floor").
func BenchmarkCompleteAndClaim(b *testing.B) {
	for _, batch := range []int{40, 49} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchCompleteAndClaim(b, batch, nil) })
	}
	for _, c := range []struct {
		name string
		drop []string
	}{
		{"history", []string{"runs_finished", "runs_job_finished"}},
		{"all-but-queue", []string{"runs_finished", "runs_job_finished", "runs_active", "runs_cron_slot",
			"runs_import", "runs_chain_parent", "runs_secret", "runs_request_key"}},
	} {
		b.Run("batch=49/without="+c.name, func(b *testing.B) { benchCompleteAndClaim(b, 49, c.drop) })
	}
}

func benchCompleteAndClaim(b *testing.B, batch int, drop []string) {
	const total = 20_000
	s, _ := openTest(b)
	ctx := b.Context()
	for _, index := range drop {
		if _, err := s.w.ExecContext(ctx, "DROP INDEX "+index); err != nil {
			b.Fatal(err)
		}
	}
	job := testJob("bench")
	if err := s.JobCreate(ctx, job); err != nil {
		b.Fatal(err)
	}
	var cpu, wall time.Duration
	now := t0
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < total; i += 1000 {
			runs := make([]*connecthub.Run, 1000)
			for k := range runs {
				runs[k] = connecthub.NewRun(job, connecthub.TriggerAPI, now, now, "")
			}
			if err := s.RunInsert(ctx, runs); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		cpu0, wall0 := processCPU(b), time.Now()
		claim := store.RunClaimParams{Node: "bench", Queues: []string{connecthub.DefaultQueue}, Max: batch, LeaseTTL: time.Minute, Now: now}
		claimed, err := s.RunClaim(ctx, claim)
		if err != nil {
			b.Fatal(err)
		}
		done := 0
		for len(claimed) > 0 {
			outcomes := make([]store.RunOutcome, len(claimed))
			for k, r := range claimed {
				outcomes[k] = store.RunOutcome{ID: r.ID, Node: "bench", Attempt: r.Attempt, Status: connecthub.StatusSuccess, Now: now}
			}
			applied, next, err := s.RunCompleteAndClaim(ctx, outcomes, claim)
			if err != nil {
				b.Fatal(err)
			}
			if !slices.Equal(applied, slices.Repeat([]bool{true}, len(outcomes))) {
				b.Fatalf("applied %v", applied)
			}
			done += len(outcomes)
			claimed = next
		}
		if done != total {
			b.Fatalf("completed %d runs, want %d", done, total)
		}
		cpu += processCPU(b) - cpu0
		wall += time.Since(wall0)
		now = now.Add(time.Second)
	}
	n := float64(b.N * total)
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/run")
	b.ReportMetric(n/wall.Seconds(), "runs/s")
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
