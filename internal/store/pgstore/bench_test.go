package pgstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/storetest"
)

// BenchmarkJobsFire fires 10,000 due jobs in one call: the largest fan-out
// the scheduler is sized for (10,000 enabled jobs due in the same minute),
// which must fire within a second so that no slot fires late.
func BenchmarkJobsFire(b *testing.B) {
	s := openTest(b, Options{})
	const n = 10000
	slot := now0.Truncate(time.Minute)
	if _, err := s.pool.Exec(b.Context(), `INSERT INTO jobs (id, handler, concurrency, created_at, updated_at)
		SELECT 'job-' || lpad(i::text, 5, '0'), 'noop', 'forbid', $1, $1 FROM generate_series(0, $2 - 1) AS i`,
		slot, n); err != nil {
		b.Fatal(err)
	}
	jobs := make([]*connecthub.Job, n)
	for i := range jobs {
		jobs[i] = testJob(fmt.Sprintf("job-%05d", i))
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		// Each round fires the next minute's slot.
		prev := slot.Add(time.Duration(i) * time.Minute)
		next := prev.Add(time.Minute)
		if _, err := s.pool.Exec(b.Context(), `UPDATE jobs SET next_run_at = $1`, prev); err != nil {
			b.Fatal(err)
		}
		fires := storetest.CronFires(jobs, prev, next)
		b.StartTimer()
		res, err := s.JobsFire(b.Context(), fires)
		if err != nil {
			b.Fatal(err)
		}
		if !res[n-1].Applied {
			b.Fatal("not applied")
		}
	}
}

// BenchmarkClaimComplete measures the queue's round trip: claim a batch of
// runs, then complete them in one batch.
func BenchmarkClaimComplete(b *testing.B) {
	s := openTest(b, Options{})
	j := testJob("j")
	if err := s.JobCreate(b.Context(), j); err != nil {
		b.Fatal(err)
	}
	const batch = 50
	b.ResetTimer()
	for range b.N {
		runs := make([]*connecthub.Run, batch)
		for k := range runs {
			runs[k] = connecthub.NewRun(j, connecthub.TriggerManual, now0, now0, "")
		}
		if err := s.RunInsert(b.Context(), runs); err != nil {
			b.Fatal(err)
		}
		claimed, err := s.RunClaim(b.Context(), store.RunClaimParams{Node: "n", Queues: []string{"default"}, Max: batch, LeaseTTL: time.Minute, Now: now0})
		if err != nil || len(claimed) != batch {
			b.Fatalf("claim: %d, %v", len(claimed), err)
		}
		outcomes := make([]store.RunOutcome, batch)
		for k, r := range claimed {
			outcomes[k] = store.RunOutcome{ID: r.ID, Node: "n", Status: connecthub.StatusSuccess, Now: now0}
		}
		if _, err := s.RunComplete(b.Context(), outcomes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "runs/s")
}
