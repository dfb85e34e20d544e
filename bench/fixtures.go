package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handlers/noop"
	"github.com/connecthub/connecthub/internal/store"
)

// cronAt returns a 6-field cron expression (with seconds) that fires at
// t's second, minute and hour every day, for a job in UTC.
func cronAt(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%d %d %d * * *", t.Second(), t.Minute(), t.Hour())
}

// createJob creates a noop job through the service, as the API does.
func (m *measurement) createJob(ctx context.Context, id, cronExpr string, enabled bool) (*connecthub.Job, error) {
	handler, tz := noop.Name, "UTC"
	in := &connecthub.JobInput{ID: &id, Handler: &handler, Timezone: &tz, Enabled: &enabled}
	if cronExpr != "" {
		in.CronExpr = &cronExpr
	}
	j, err := m.e.svc.JobCreate(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("create job %s: %w", id, err)
	}
	return j, nil
}

// createJobs creates count jobs named prefix00000, prefix00001, ... with
// jobCreators goroutines.
func (m *measurement) createJobs(ctx context.Context, prefix string, count int, cronExpr string, enabled bool) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(jobCreators, count) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= count || ctx.Err() != nil {
					return
				}
				if _, err := m.createJob(ctx, fmt.Sprintf("%s%05d", prefix, i), cronExpr, enabled); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// insertRuns inserts n QUEUED runs of job in batches of insertBatch.
func (m *measurement) insertRuns(ctx context.Context, job *connecthub.Job, n int) error {
	for left := n; left > 0; left -= insertBatch {
		now := time.Now()
		batch := make([]*connecthub.Run, min(left, insertBatch))
		for i := range batch {
			batch[i] = connecthub.NewRun(job, connecthub.TriggerAPI, now, now, "bench")
		}
		if err := m.e.st.RunInsert(ctx, batch); err != nil {
			return fmt.Errorf("insert runs: %w", err)
		}
		m.diag.Inserts++
	}
	return nil
}

// beginMeasured ends the setup: it closes and reopens the store, so that
// the measured phase starts from a store as a node boots with it and, on
// PostgreSQL, so that the setup's transactions are published and can be
// told apart from the measured ones. Then it starts the CPU profile.
func (m *measurement) beginMeasured(ctx context.Context) error {
	m.diag.Inserts = 0
	if err := m.e.close(); err != nil {
		return err
	}
	if m.a.System == systemPostgres {
		base, err := pgXacts(ctx, m.a.adminURL, m.a.db)
		if err != nil {
			return err
		}
		m.xactBase = base
		if m.walBase, err = pgWALStats(ctx, m.a.adminURL); err != nil {
			return err
		}
		m.pgPM = pgPostmaster(ctx, m.a.adminURL)
	}
	if err := m.e.open(ctx); err != nil {
		return err
	}
	if m.a.cpuProfile != "" {
		if err := m.writeAllocs("allocs-base"); err != nil {
			return err
		}
		f, err := os.Create(m.profilePath("cpu"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		m.cpuFile = f
	}
	m.cpuStart = readCPUTimes()
	if m.pgPM != 0 {
		m.serverCPUBase, _ = serverCPU(m.pgPM)
	}
	return nil
}

// endMeasured ends the measured phase: it stops the profile and the node
// (when n is not nil), notes the peak RSS and the store calls, and on
// PostgreSQL closes the store to count the transactions, then reopens it
// for the verification.
func (m *measurement) endMeasured(ctx context.Context, n *node) error {
	end := readCPUTimes()
	if m.pgPM != 0 {
		if cpu, err := serverCPU(m.pgPM); err == nil {
			// The whole server's, so the measurement's own only on a
			// server nothing else uses, like pgWALStats.
			m.note("server_cpu_s", round((cpu-m.serverCPUBase).Seconds(), 3))
		}
	}
	m.diag.WallS = round(end.wall.Sub(m.cpuStart.wall).Seconds(), 3)
	m.diag.ProcessCPUS = round((end.process - m.cpuStart.process).Seconds(), 3)
	m.diag.MachineCPUS = -1
	if end.busy >= 0 && m.cpuStart.busy >= 0 {
		m.diag.MachineCPUS = round((end.busy - m.cpuStart.busy).Seconds(), 3)
	}
	var errs []error
	if m.cpuFile != nil {
		pprof.StopCPUProfile()
		errs = append(errs, m.cpuFile.Close(), m.writeAllocs("allocs"))
		m.cpuFile = nil
	}
	if n != nil {
		errs = append(errs, n.stop())
		m.diag.Claims = n.src.claims.Load()
		m.diag.Completes = n.src.completes.Load()
		m.diag.CompleteClaims = n.src.completeClaims.Load()
		// The time spent in each kind of call, summed over calls (calls
		// run concurrently, so the sum may exceed WallS): which one
		// bounds the throughput.
		m.note("claim_calls_ms", round(float64(n.src.claimNanos.Load())/1e6, 1))
		m.note("complete_calls_ms", round(float64(n.src.completeNanos.Load())/1e6, 1))
		m.note("complete_claim_calls_ms", round(float64(n.src.ccNanos.Load())/1e6, 1))
		m.diag.Heartbeats = n.src.heartbeats.Load()
		m.diag.LogAppends = n.src.logAppends.Load()
		m.diag.Runs = n.src.completed.Load()
	}
	rss, err := peakRSSMB()
	errs = append(errs, err)
	m.rss = rss
	if m.xactBase >= 0 {
		errs = append(errs, m.e.close())
		after, err := pgXacts(ctx, m.a.adminURL, m.a.db)
		errs = append(errs, err)
		m.diag.PGXacts = after - m.xactBase
		if err == nil && m.diag.Runs > 0 {
			// Setup only inserts; every update of runs is the measured
			// phase's (claims and completions).
			ts, err := pgRunsTableStats(ctx, m.a.dsn)
			errs = append(errs, err)
			m.note("runs_updates_per_run", round(float64(ts.Updates)/float64(m.diag.Runs), 3))
			wal, err := pgWALStats(ctx, m.a.adminURL)
			errs = append(errs, err)
			m.note("wal_syncs", float64(wal.Syncs-m.walBase.Syncs))
			m.note("wal_bytes_per_run", round(float64(wal.Bytes-m.walBase.Bytes)/float64(m.diag.Runs), 0))
			m.note("runs_hot_update_pct", round(100*float64(ts.HOTUpdates)/float64(max(ts.Updates, 1)), 1))
			m.note("runs_indexes", float64(ts.Indexes))
			m.note("runs_autovacuums", float64(ts.AutoVacuums))
			m.note("runs_autoanalyzes", float64(ts.AutoAnalyzes))
		}
		errs = append(errs, m.e.open(ctx))
	}
	return errors.Join(errs...)
}

// note records a measurement-specific figure in the diagnostics.
func (m *measurement) note(key string, v float64) {
	if m.diag.Extra == nil {
		m.diag.Extra = map[string]float64{}
	}
	m.diag.Extra[key] = v
}

// profilePath names a profile file of this measurement.
func (m *measurement) profilePath(kind string) string {
	name := fmt.Sprintf("%s-%s", m.a.System, m.a.Kind)
	if m.a.C > 0 {
		name += fmt.Sprintf("-c%d", m.a.C)
	}
	if m.a.tag != "" {
		name += "-" + m.a.tag
	}
	return filepath.Join(m.a.cpuProfile, name+"."+kind+".pprof")
}

// writeAllocs writes the allocation profile, after a GC so that it is up
// to date. The measured phase's allocations are the difference between
// "allocs" and "allocs-base" (go tool pprof -base).
func (m *measurement) writeAllocs(kind string) error {
	runtime.GC()
	f, err := os.Create(m.profilePath(kind))
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// waitDone waits until the node committed want outcomes.
func waitDone(ctx context.Context, n *node, want int) error {
	select {
	case <-n.src.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gave up after %d of %d outcomes were recorded: %w", n.src.completed.Load(), want, ctx.Err())
	}
}

// waitIdle waits until the worker made its first claim (which finds
// nothing), so that the latency runs find it idle, waiting for a wake-up.
func waitIdle(ctx context.Context, n *node) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for n.src.claims.Load() == 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the worker never claimed: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// verifyRuns checks that the store holds exactly want runs and that each
// was recorded in full: SUCCESS at attempt 1 on node, with its start and
// finish times, and an empty log (noop writes nothing). each, when not nil,
// sees every run and may fail the verification.
func verifyRuns(ctx context.Context, st store.Store, want int, node string, each func(*connecthub.Run) error) error {
	count := 0
	cursor := ""
	for {
		runs, next, err := st.RunList(ctx, store.RunListParams{Limit: 500, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("verify: list runs: %w", err)
		}
		for _, r := range runs {
			count++
			if err := checkRun(r, node); err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			if each != nil {
				if err := each(r); err != nil {
					return fmt.Errorf("verify: %w", err)
				}
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if count != want {
		return fmt.Errorf("verify: the store holds %d runs, want %d", count, want)
	}
	return nil
}

// checkRun checks what every run of the benchmark must record.
func checkRun(r *connecthub.Run, node string) error {
	switch {
	case r.Status != connecthub.StatusSuccess:
		return fmt.Errorf("run %s is %s, want SUCCESS (error %q)", r.ID, r.Status, r.Error)
	case r.Attempt != 1:
		return fmt.Errorf("run %s is at attempt %d, want 1", r.ID, r.Attempt)
	case r.Node != node:
		return fmt.Errorf("run %s ran on node %q, want %q", r.ID, r.Node, node)
	case r.StartedAt == nil || r.FinishedAt == nil:
		return fmt.Errorf("run %s lacks its started_at or finished_at", r.ID)
	case r.FinishedAt.Before(*r.StartedAt):
		return fmt.Errorf("run %s finished (%s) before it started (%s)", r.ID, r.FinishedAt, r.StartedAt)
	case r.LogSize != 0:
		return fmt.Errorf("run %s has a log of %d bytes, want an empty one", r.ID, r.LogSize)
	}
	return nil
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
