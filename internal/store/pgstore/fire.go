package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Statements of JobsFire. Each handles every job of a round at once, so a
// scheduler firing thousands of jobs in one call costs a handful of round
// trips, not several per job.
const (
	// fireLockSQL locks the jobs in id order, before the compare-and-set
	// touches them in whatever order its join produces (see Lock order).
	// NO KEY UPDATE, like the UPDATE itself: inserting runs, whose foreign
	// key takes a KEY SHARE lock on the job, is not held up.
	fireLockSQL = `SELECT id FROM jobs WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`
	// fireCASSQL moves next_run_at of the jobs that are still enabled and
	// still due at the slot the scheduler saw, and returns their indexes.
	fireCASSQL = `UPDATE jobs AS j SET next_run_at = f.next, last_run_at = COALESCE(f.last, j.last_run_at)
		FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[], $5::int[]) AS f(id, prev, next, last, i)
		WHERE j.id = f.id AND j.enabled AND j.next_run_at = f.prev
		RETURNING f.i`
	// fireTakenSQL returns the slots among ($1, $2) that already have a cron run.
	fireTakenSQL = `SELECT r.job_id, r.scheduled_for
		FROM unnest($1::text[], $2::timestamptz[]) AS s(job_id, slot)
		JOIN runs AS r ON r.job_id = s.job_id AND r.scheduled_for = s.slot AND r."trigger" = 'cron'`
	// fireActiveSQL returns the jobs among $1 that have a QUEUED or RUNNING
	// run. Each job is asked whether it has one, which stops at the first
	// found, per status, so that each reads its partial index
	// (runs_queued_job, runs_running) and a job's backlog is not read.
	fireActiveSQL = `SELECT f.id FROM unnest($1::text[]) AS f(id)
		WHERE EXISTS (SELECT 1 FROM runs WHERE job_id = f.id AND status = 'QUEUED')
			OR EXISTS (SELECT 1 FROM runs WHERE job_id = f.id AND status = 'RUNNING')`
	// fireCancelQueuedSQL cancels the QUEUED runs of the replaced jobs.
	fireCancelQueuedSQL = `UPDATE runs AS r SET status = 'CANCELED', finished_at = f.now, error = $3, message = $4, updated_at = f.now
		FROM unnest($1::text[], $2::timestamptz[]) AS f(job_id, now)
		WHERE r.job_id = f.job_id AND r.status = 'QUEUED'`
	// fireCancelRunningSQL requests the cancel of the RUNNING runs of the
	// replaced jobs, locking them in id order, and returns how many.
	fireCancelRunningSQL = `WITH requested AS (
			UPDATE runs AS r SET cancel_requested = true, updated_at = f.now
			FROM unnest($1::text[], $2::timestamptz[]) AS f(job_id, now)
			WHERE r.job_id = f.job_id AND r.status = 'RUNNING' AND NOT r.cancel_requested
				AND r.id IN (SELECT id FROM runs WHERE job_id = ANY($1) AND status = 'RUNNING' AND NOT cancel_requested
					ORDER BY id FOR NO KEY UPDATE)
			RETURNING 1)
		SELECT count(*) FROM requested`
	// fireInsertSQL inserts the runs; a slot taken since fireTakenSQL looked
	// (by a RunInsert of a cron run) is left alone rather than failing the
	// whole firing.
	fireInsertSQL = insertRunsSQL + `
		ON CONFLICT (job_id, scheduled_for) WHERE "trigger" = 'cron' DO NOTHING
		RETURNING id`
)

// JobsFire implements store.JobStore in one transaction.
//
// The jobs are handled in rounds in which each job appears once (in
// practice one round: a scheduler fires a job once per call): a round locks
// its jobs, applies the compare-and-sets, reads which slots are taken and
// which jobs are busy, decides every run in memory following the contract
// (in order, so a job's earlier slots count for its later ones), then
// writes the cancels and all the runs. Each step is one statement for the
// whole round.
//
// The driver sets the Status (QUEUED, or SKIPPED under forbid) and the
// Trigger (cron) of the inserted runs, and their JobID if it is empty. An
// empty Concurrency means the default, forbid.
func (s *Store) JobsFire(ctx context.Context, fires []store.JobFireParams) ([]store.JobFireResult, error) {
	results, eff, err := store.Fire(fires, func(rows [][]*connecthub.Run, results []store.JobFireResult) (eff store.FireEffects, err error) {
		for _, rs := range rows {
			for _, r := range rs {
				cleanRunText(r)
			}
		}
		err = s.tx(ctx, func(tx pgx.Tx) error {
			for _, round := range fireRounds(fires) {
				ins, req, err := s.fireRound(ctx, tx, fires, rows, round, results)
				if err != nil {
					return err
				}
				eff.Inserted = eff.Inserted || ins
				eff.CancelRequested = eff.CancelRequested || req
			}
			if eff.Inserted {
				if err := s.notify(ctx, tx, store.TopicRuns); err != nil {
					return err
				}
			}
			if eff.CancelRequested {
				return s.notify(ctx, tx, store.TopicCancel)
			}
			return nil
		})
		return eff, dbErr(err)
	})
	if err != nil {
		return nil, err
	}
	for _, t := range eff.Topics() {
		s.Publish(t)
	}
	return results, nil
}

// fireRounds splits the indexes of fires into rounds in which each job
// appears at most once, keeping each job's fires in order.
func fireRounds(fires []store.JobFireParams) [][]int {
	var rounds [][]int
	seen := make(map[string]int, len(fires))
	for i, f := range fires {
		n := seen[f.JobID]
		seen[f.JobID] = n + 1
		if n == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[n] = append(rounds[n], i)
	}
	return rounds
}

// fireRound fires the jobs of one round (fires[round[...]]), filling their
// results, and reports whether it inserted QUEUED runs and requested
// cancels.
func (s *Store) fireRound(ctx context.Context, tx pgx.Tx, fires []store.JobFireParams, rows [][]*connecthub.Run,
	round []int, results []store.JobFireResult) (inserted, cancelRequested bool, err error) {
	// 1. Lock the jobs and compare-and-set their slots.
	var (
		jobIDs      = make([]string, len(round))
		prev        = make([]time.Time, len(round))
		next, last  = make([]*time.Time, len(round)), make([]*time.Time, len(round))
		indexes     = make([]int32, len(round))
		appliedList []int
	)
	for k, i := range round {
		f := fires[i]
		jobIDs[k], prev[k], next[k], last[k], indexes[k] = f.JobID, utc(f.PrevNextRunAt), utcPtr(f.NextRunAt), utcPtr(f.LastRunAt), int32(i)
	}
	b := &pgx.Batch{}
	b.Queue(fireLockSQL, jobIDs)
	b.Queue(fireCASSQL, jobIDs, prev, next, last, indexes)
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return false, false, dbErr(err)
	}
	casRows, err := br.Query()
	if err == nil {
		var i int32
		_, err = pgx.ForEachRow(casRows, []any{&i}, func() error {
			results[i].Applied = true
			appliedList = append(appliedList, int(i))
			return nil
		})
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, false, dbErr(err)
	}

	// 2. Which slots are taken, and which jobs busy, before this round.
	var (
		slotJobs  []string
		slots     []time.Time
		watchJobs []string // jobs whose concurrency policy looks at active runs
	)
	for _, i := range appliedList {
		f := fires[i]
		for _, r := range rows[i] {
			slotJobs = append(slotJobs, r.JobID)
			slots = append(slots, utc(r.ScheduledFor))
		}
		if len(rows[i]) > 0 && f.Concurrency != connecthub.ConcurrencyAllow {
			watchJobs = append(watchJobs, f.JobID)
		}
	}
	if len(slots) == 0 {
		return false, false, nil
	}
	taken := make(map[store.FireSlot]bool)
	active := make(map[string]bool)
	b = &pgx.Batch{}
	b.Queue(fireTakenSQL, slotJobs, slots)
	b.Queue(fireActiveSQL, watchJobs)
	br = tx.SendBatch(ctx, b)
	takenRows, err := br.Query()
	if err == nil {
		var (
			job string
			at  time.Time
		)
		_, err = pgx.ForEachRow(takenRows, []any{&job, &at}, func() error {
			taken[store.SlotOf(job, at)] = true
			return nil
		})
	}
	if err == nil {
		var activeRows pgx.Rows
		if activeRows, err = br.Query(); err == nil {
			var job string
			_, err = pgx.ForEachRow(activeRows, []any{&job}, func() error {
				active[job] = true
				return nil
			})
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, false, dbErr(err)
	}

	// 3. Decide every run, in order (store.DecideFire).
	type written struct {
		fire int
		row  *connecthub.Run
	}
	var (
		insert      runRows
		insertAt    []written
		replaceJobs []string
		replaceNows []time.Time
	)
	for _, i := range appliedList {
		f := &fires[i]
		write, replace, err := store.DecideFire(f, rows[i], taken, active[f.JobID], &s.ids, &results[i])
		if err != nil {
			return false, false, err
		}
		if replace {
			replaceJobs = append(replaceJobs, f.JobID)
			replaceNows = append(replaceNows, utc(f.Now))
		}
		for _, row := range write {
			insertAt = append(insertAt, written{i, row})
		}
	}
	// Encode after deciding: a later slot's replace changes earlier rows.
	for _, at := range insertAt {
		if err := insert.add(at.row); err != nil {
			return false, false, err
		}
	}

	// 4. Write the cancels and the runs.
	b = &pgx.Batch{}
	if len(replaceJobs) > 0 {
		b.Queue(fireCancelQueuedSQL, replaceJobs, replaceNows, connecthub.ReasonCanceled, store.ReplacedMessage)
		b.Queue(fireCancelRunningSQL, replaceJobs, replaceNows)
	}
	if insert.len() > 0 {
		b.Queue(fireInsertSQL, insert.args()...)
	}
	if b.Len() == 0 {
		return false, false, nil
	}
	ids := make(map[string]bool, insert.len())
	br = tx.SendBatch(ctx, b)
	if len(replaceJobs) > 0 {
		if _, err = br.Exec(); err == nil {
			var n int64
			if err = br.QueryRow().Scan(&n); err == nil {
				cancelRequested = n > 0
			}
		}
	}
	if err == nil && insert.len() > 0 {
		var idRows pgx.Rows
		if idRows, err = br.Query(); err == nil {
			var id string
			_, err = pgx.ForEachRow(idRows, []any{&id}, func() error {
				ids[id] = true
				return nil
			})
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, false, dbErr(err)
	}

	// A run that ON CONFLICT left out lost its slot to a concurrent insert
	// after step 2 looked: it is a duplicate after all.
	for _, at := range insertAt {
		row := at.row
		if ids[row.ID] {
			if row.Status == connecthub.StatusQueued {
				inserted = true
			}
			continue
		}
		res := &results[at.fire]
		switch row.Status {
		case connecthub.StatusSkipped:
			res.Skipped--
		default:
			res.Inserted--
		}
		res.Duplicates++
		for k, id := range res.RunIDs {
			if id == row.ID {
				res.RunIDs = append(res.RunIDs[:k], res.RunIDs[k+1:]...)
				break
			}
		}
		row.ID = ""
	}
	return inserted, cancelRequested, nil
}
