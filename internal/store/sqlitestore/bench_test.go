package sqlitestore

import (
	"fmt"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/storetest"
)

// BenchmarkJobsFire measures a scheduler round that fires 10k jobs with a
// due slot each (concurrency forbid), in one call, as pgstore's does.
func BenchmarkJobsFire(b *testing.B) {
	const n = 10000
	s, _ := openTest(b)
	ctx := b.Context()
	slot := t0.Truncate(time.Minute)
	jobs := make([]*connecthub.Job, n)
	for i := range jobs {
		jobs[i] = testJob(fmt.Sprintf("job-%05d", i))
		jobs[i].Concurrency = connecthub.ConcurrencyForbid
		if err := s.JobCreate(ctx, jobs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		// Each round fires the next minute's slot.
		prev := slot.Add(time.Duration(i) * time.Minute)
		next := prev.Add(time.Minute)
		if _, err := s.w.ExecContext(ctx, `UPDATE jobs SET next_run_at = ?`, micros(prev)); err != nil {
			b.Fatal(err)
		}
		fires := storetest.CronFires(jobs, prev, next)
		b.StartTimer()
		res, err := s.JobsFire(ctx, fires)
		if err != nil {
			b.Fatal(err)
		}
		if !res[n-1].Applied {
			b.Fatal("not applied")
		}
	}
}

// BenchmarkClaimComplete measures the queue's hot path on a real file: 10k
// runs inserted in batches of 100, then claimed in batches of 100 and
// completed in batches of 100. It reports runs per second for each phase
// and for the whole.
func BenchmarkClaimComplete(b *testing.B) {
	const total, batch = 10_000, 100
	s, _ := openTest(b)
	ctx := b.Context()
	job := testJob("bench")
	job.PublicCfg = []byte(`{"url":"https://example.test/api","method":"POST","headers":{"X-Trace":"1"}}`)
	if err := s.JobCreate(ctx, job); err != nil {
		b.Fatal(err)
	}
	var insertDur, claimDur, completeDur time.Duration
	now := t0
	for b.Loop() {
		start := time.Now()
		for i := 0; i < total; i += batch {
			runs := make([]*connecthub.Run, batch)
			for k := range runs {
				runs[k] = connecthub.NewRun(job, connecthub.TriggerAPI, now, now, "")
			}
			if err := s.RunInsert(ctx, runs); err != nil {
				b.Fatal(err)
			}
		}
		insertDur += time.Since(start)

		done := 0
		for done < total {
			start = time.Now()
			claimed, err := s.RunClaim(ctx, store.RunClaimParams{
				Node: "bench", Queues: []string{"default"}, Max: batch, LeaseTTL: time.Minute, Now: now,
			})
			if err != nil {
				b.Fatal(err)
			}
			if len(claimed) == 0 {
				b.Fatalf("queue empty after %d of %d runs", done, total)
			}
			claimDur += time.Since(start)
			start = time.Now()
			outcomes := make([]store.RunOutcome, len(claimed))
			for k, r := range claimed {
				outcomes[k] = store.RunOutcome{ID: r.ID, Node: "bench", Status: connecthub.StatusSuccess,
					Message: "ok", Result: []byte(`{"n":1}`), Now: now}
			}
			applied, err := s.RunComplete(ctx, outcomes)
			if err != nil {
				b.Fatal(err)
			}
			for _, ok := range applied {
				if !ok {
					b.Fatal("an outcome was not applied")
				}
			}
			completeDur += time.Since(start)
			done += len(claimed)
		}
		now = now.Add(time.Second)
	}
	n := float64(b.N * total)
	b.ReportMetric(n/insertDur.Seconds(), "inserts/s")
	b.ReportMetric(n/claimDur.Seconds(), "claims/s")
	b.ReportMetric(n/completeDur.Seconds(), "completes/s")
	b.ReportMetric(n/(insertDur+claimDur+completeDur).Seconds(), "runs/s")
}
