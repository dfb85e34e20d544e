package pgstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Statements of RunComplete. The terminal one is guarded by status, node
// and, when the outcome names one (not 0), attempt.
const (
	completeTerminalSQL = `UPDATE runs SET status = $1, finished_at = $2, message = $3, error = $4,
		traceback = $5, result = $6, lease_expires_at = NULL, updated_at = $2
		WHERE id = $7 AND status = 'RUNNING' AND node = $8 AND ($9::integer = 0 OR attempt = $9::integer)`
	completeRetrySQL = `UPDATE runs SET status = 'QUEUED', attempt = attempt + 1, attempts = $1,
		available_at = $2, node = '', lease_expires_at = NULL, heartbeat_at = NULL, started_at = NULL,
		message = $3, error = $4, traceback = $5, result = NULL, updated_at = $6
		WHERE id = $7`
	completeHandBackSQL = `UPDATE runs SET status = 'QUEUED', available_at = $1, node = '',
		lease_expires_at = NULL, heartbeat_at = NULL, started_at = NULL, updated_at = $1
		WHERE id = $2`
)

// completeBatchSQL ends a batch of runs with terminal outcomes in one
// statement, instead of one statement per outcome: that halves the
// server's CPU per completion. The outcomes are unnested into rows, in the
// order given (by id), and a LATERAL subquery locks each one's run by id:
// so the runs are locked one by one in id order (see Lock order), and each
// lookup is by the primary key. The guard (RUNNING on that node, and in
// that attempt when the outcome's is not 0) is checked on the locked row,
// which is the latest version and cannot change before commit; the runs
// are then updated by id. The subquery's LIMIT 1 (ids are unique) keeps
// the planner from pushing the guard's status test into it: with the test
// there, statistics that say few runs are RUNNING (they lag behind a burst
// of claims) make a walk of a status index look cheaper than the key
// lookup, and that walk visits every RUNNING entry, live or dead, for each
// outcome. A run whose end would start a chain (its job's on_success or
// on_failure for the outcome's status is not empty) is left alone, for
// RunComplete to complete where it can start the chain; the jobs that
// chain are read once per statement (two hashed subplans over the partial
// index jobs_chained), not looked up once per outcome. It returns the ids
// of the runs it ended.
//
// Parameters are arrays of equal length: $1 id, $2 status, $3 now, $4
// message, $5 error, $6 traceback, $7 result (JSON text or NULL), $8 node,
// $9 attempt.
const completeBatchSQL = `UPDATE runs AS r SET status = o.status, finished_at = o.now, message = o.message,
		error = o.error, traceback = o.traceback, result = o.result::json, lease_expires_at = NULL,
		updated_at = o.now
	FROM (
		SELECT u.* FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::integer[]) AS u(id, status, now, message, error, traceback, result, node, attempt)
		CROSS JOIN LATERAL (
			SELECT status, node, attempt, job_id FROM runs WHERE runs.id = u.id LIMIT 1 FOR NO KEY UPDATE
		) AS held
		WHERE held.status = 'RUNNING' AND held.node = u.node AND (u.attempt = 0 OR held.attempt = u.attempt)
			AND NOT (u.status = 'SUCCESS' AND held.job_id IN (SELECT id FROM jobs WHERE on_success <> '{}'))
			AND NOT (u.status = 'FAILURE' AND held.job_id IN (SELECT id FROM jobs WHERE on_failure <> '{}'))
	) AS o
	WHERE r.id = o.id
	RETURNING r.id`

// RunComplete implements store.RunStore: the whole batch in one
// transaction.
//
// A batch of terminal outcomes for distinct runs (the hot path) is one
// statement, completeBatchSQL, except for the runs whose end starts a
// chain, which that statement leaves alone: they are completed by the
// general path below, which starts their chains in the same transaction.
// Any other batch (re-queues, or a run named twice) takes the general
// path: it locks the runs it names first (SELECT ... FOR UPDATE) in id
// order (see Lock order), decides each outcome from their state (for one
// run in the caller's order, so that the first outcome that applies wins,
// as if the outcomes had come one call after the other), writes all
// changes in a second round trip, and starts the chains of the runs that
// ended.
//
// What a re-queue writes is store.DecideCompletion's.
func (s *Store) RunComplete(ctx context.Context, outcomes []store.RunOutcome) ([]bool, error) {
	applied := make([]bool, len(outcomes))
	if len(outcomes) == 0 {
		return applied, nil
	}
	order, requeues, repeated, err := checkOutcomes(outcomes)
	if err != nil {
		return nil, err
	}
	if !requeues && !repeated {
		if err := s.completeTerminal(ctx, outcomes, order, applied); err != nil {
			return nil, err
		}
		if err := s.completeChained(ctx, outcomes, applied); err != nil {
			return nil, err
		}
		return applied, nil
	}
	requeued, chained, err := s.completeInTx(ctx, outcomes, order, applied)
	if err != nil {
		return nil, err
	}
	if requeued {
		s.Publish(store.TopicRuns)
	}
	s.publishChains(chained)
	return applied, nil
}

// completeChained completes, through completeInTx, the terminal outcomes
// that completeBatchSQL did not apply (see chainedOutcomes), and marks
// which applied.
func (s *Store) completeChained(ctx context.Context, outcomes []store.RunOutcome, applied []bool) error {
	redo := chainedOutcomes(outcomes, applied)
	if len(redo) == 0 {
		return nil
	}
	sub := make([]store.RunOutcome, len(redo))
	for k, i := range redo {
		sub[k] = outcomes[i]
	}
	order, _, _, err := checkOutcomes(sub)
	if err != nil {
		return err
	}
	subApplied := make([]bool, len(sub))
	_, chained, err := s.completeInTx(ctx, sub, order, subApplied)
	if err != nil {
		return err
	}
	for k, i := range redo {
		applied[i] = subApplied[k]
	}
	s.publishChains(chained)
	return nil
}

// completeInTx applies outcomes in one transaction, in order, by locking
// the runs they name and deciding each by store.DecideCompletion, and
// starts the chains of the runs that ended. It marks which applied and
// reports whether any run was re-queued and what the chains started.
func (s *Store) completeInTx(ctx context.Context, outcomes []store.RunOutcome, order []int, applied []bool) (bool, store.ChainStarted, error) {
	requeued := false
	var chained store.ChainStarted
	err := s.tx(ctx, func(tx pgx.Tx) error {
		held, err := lockRunning(ctx, tx, outcomes)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		var ends []store.ChainEnd
		for _, i := range order {
			o := outcomes[i]
			cur, ok := held[o.ID]
			if !ok || cur.node != o.Node || (o.Attempt != 0 && cur.attempt != o.Attempt) {
				continue // not held by that node (in that attempt): not applied
			}
			// Whatever applies, the run is no longer RUNNING on this node:
			// a later outcome for it in this batch must not apply.
			delete(held, o.ID)
			applied[i] = true
			// The history is JSON text: clean the error before it goes in.
			clean := o
			clean.Error = cleanText(o.Error)
			d, err := store.DecideCompletion(&clean, &store.HeldRun{
				Attempt: cur.attempt, MaxAttempts: cur.maxAttempts, History: cur.attempts,
				StartedAt: cur.startedAt, CancelRequested: cur.cancel,
			})
			if err != nil {
				return dbErr(err)
			}
			now := utc(o.Now)
			switch {
			case d.Status != connecthub.StatusQueued:
				queueTerminal(b, o, d.Status, d.Error)
				ends = append(ends, store.ChainEnd{RunID: o.ID, JobID: cur.jobID, Status: d.Status,
					Result: o.Result, Error: cleanText(d.Error), At: o.Now})
			case d.Retry:
				b.Queue(completeRetrySQL, d.History, utc(d.AvailableAt), cleanText(o.Message), d.Error,
					cleanText(o.Traceback), now, o.ID)
				requeued = true
			default:
				b.Queue(completeHandBackSQL, now, o.ID)
				requeued = true
			}
		}
		if requeued {
			s.queueNotify(b, store.TopicRuns)
		}
		br := tx.SendBatch(ctx, b)
		for range b.Len() {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return dbErr(err)
			}
		}
		if err := br.Close(); err != nil {
			return dbErr(err)
		}
		chained, err = s.startChains(ctx, tx, ends)
		return err
	})
	if err != nil {
		return false, store.ChainStarted{}, err
	}
	return requeued, chained, nil
}

// checkOutcomes checks a batch of outcomes. It returns the order to apply
// them in (by id; a stable sort keeps the outcomes of one run in the
// caller's order, so the first that applies wins, as if one by one), and
// whether any re-queues a run and whether any run is named twice.
func checkOutcomes(outcomes []store.RunOutcome) (order []int, requeues, repeated bool, err error) {
	if requeues, err = store.ValidateOutcomes(outcomes); err != nil {
		return nil, false, false, err
	}
	order = make([]int, len(outcomes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(outcomes[a].ID, outcomes[b].ID) })
	for k := 1; k < len(order); k++ {
		if outcomes[order[k]].ID == outcomes[order[k-1]].ID {
			repeated = true
			break
		}
	}
	return order, requeues, repeated, nil
}

// queueTerminal queues the UPDATE that ends a run with status.
func queueTerminal(b *pgx.Batch, o store.RunOutcome, status connecthub.RunStatus, errText string) {
	b.Queue(completeTerminalSQL, string(status), utc(o.Now), cleanText(o.Message), cleanText(errText),
		cleanText(o.Traceback), nullJSON(o.Result), o.ID, o.Node, int32(o.Attempt))
}

// completeTerminal applies terminal outcomes for distinct runs, in order
// (ascending ids), with completeBatchSQL, and marks which applied.
func (s *Store) completeTerminal(ctx context.Context, outcomes []store.RunOutcome, order []int, applied []bool) error {
	args, index := completeBatchArgs(outcomes, order)
	db, err := s.db()
	if err != nil {
		return err
	}
	rows, err := db.Query(ctx, completeBatchSQL, args...)
	if err != nil {
		return dbErr(err)
	}
	return readApplied(rows, index, applied)
}

// completeBatchArgs returns the parameters of completeBatchSQL for the
// outcomes, in order, and the index of each outcome by run id.
func completeBatchArgs(outcomes []store.RunOutcome, order []int) ([]any, map[string]int) {
	n := len(order)
	var (
		ids, statuses, messages, errs, tracebacks, nodes = make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		nows     = make([]time.Time, n)
		results  = make([]*string, n)
		attempts = make([]int32, n)
		index    = make(map[string]int, n)
	)
	for k, i := range order {
		o := &outcomes[i]
		ids[k], statuses[k], nows[k] = o.ID, string(o.Status), utc(o.Now)
		messages[k], errs[k], tracebacks[k] = cleanText(o.Message), cleanText(o.Error), cleanText(o.Traceback)
		results[k], nodes[k], attempts[k] = nullJSON(o.Result), o.Node, int32(o.Attempt)
		index[o.ID] = i
	}
	return []any{ids, statuses, nows, messages, errs, tracebacks, results, nodes, attempts}, index
}

// readApplied reads the ids that completeBatchSQL returns and marks their
// outcomes applied. It closes rows.
func readApplied(rows pgx.Rows, index map[string]int, applied []bool) error {
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return dbErr(err)
		}
		applied[index[id]] = true
	}
	return dbErr(rows.Err())
}

// runningRun is the state of a RUNNING run that RunComplete needs.
type runningRun struct {
	node                 string
	jobID                string // read by lockRunning only
	attempt, maxAttempts int
	attempts             []byte
	startedAt            *time.Time
	cancel               bool
}

// lockRunningSQL locks the runs named by $1 (distinct ids, ascending) one
// by one by key, in id order, and returns the state of those that are
// RUNNING; see completeBatchSQL for why the status is tested outside the
// LATERAL subquery.
const lockRunningSQL = `SELECT u.id, held.node, held.attempt, held.max_attempts, held.attempts, held.started_at,
		held.cancel_requested, held.job_id
	FROM unnest($1::text[]) AS u(id)
	CROSS JOIN LATERAL (
		SELECT status, node, attempt, max_attempts, attempts, started_at, cancel_requested, job_id
		FROM runs WHERE runs.id = u.id LIMIT 1 FOR NO KEY UPDATE
	) AS held
	WHERE held.status = 'RUNNING'`

// lockRunning locks the runs that outcomes name, in id order, and returns
// the state of the RUNNING ones by id.
func lockRunning(ctx context.Context, tx pgx.Tx, outcomes []store.RunOutcome) (map[string]*runningRun, error) {
	ids := make([]string, len(outcomes))
	for i, o := range outcomes {
		ids[i] = o.ID
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	rows, err := tx.Query(ctx, lockRunningSQL, ids)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	held := make(map[string]*runningRun)
	for rows.Next() {
		var (
			id                   string
			r                    runningRun
			attempt, maxAttempts int32
		)
		if err := rows.Scan(&id, &r.node, &attempt, &maxAttempts, &r.attempts, &r.startedAt, &r.cancel, &r.jobID); err != nil {
			return nil, dbErr(err)
		}
		r.attempt, r.maxAttempts = int(attempt), int(maxAttempts)
		r.startedAt = utcPtr(r.startedAt)
		held[id] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	return held, nil
}
