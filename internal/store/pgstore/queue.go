package pgstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Lock order. Statements that lock several runs and may wait for a lock
// (heartbeats, completions, the cancels of JobsFire) take the rows in id
// order, so two of them can never wait for each other in a cycle:
// heartbeats and completions lock each run in a LATERAL lookup by key,
// driven by their ids in ascending order. Claims and rescues never wait:
// they skip locked rows.

// claimSQL claims runs in one statement. For each queue, the inner SELECT
// walks the runs_claim index in claim order and locks at most $5 rows,
// skipping rows another claimer holds (FOR UPDATE SKIP LOCKED); the union,
// at most $5 per queue, is ordered again and cut to $5. So a backlog of any
// size costs a bounded walk, and the claim order holds across queues. A
// paused queue (a row in paused_queues) gives nothing: the check is
// per queue, before its runs are walked or locked. The
// picked ids are then updated by key: they were QUEUED when they were
// locked, and the lock keeps them so.
//
// Parameters: $1 node, $2 lease expiry, $3 now, $4 queues, $5 max, $6
// handlers (empty: any handler).
var claimSQL = buildClaimSQL(`(cardinality($6::text[]) = 0 OR handler = ANY($6::text[]))`)

// claimPrefixSQL is claimSQL for a node that also serves handler prefixes
// ($7, never empty): a run is claimed when its handler is one of $6 or
// starts with one of $7. It is a statement of its own so that the common
// claim's plan does not carry the prefix test.
var claimPrefixSQL = buildClaimSQL(`(handler = ANY($6::text[])
				OR EXISTS (SELECT 1 FROM unnest($7::text[]) AS hp(prefix) WHERE left(handler, length(hp.prefix)) = hp.prefix))`)

func buildClaimSQL(handlerFilter string) string {
	return `UPDATE runs
	SET status = 'RUNNING', node = $1, lease_expires_at = $2, heartbeat_at = $3, started_at = $3, updated_at = $3
	WHERE id = ANY(ARRAY(
		SELECT c.id FROM unnest($4::text[]) AS q(name)
		CROSS JOIN LATERAL (
			SELECT id, priority FROM runs
			WHERE status = 'QUEUED' AND queue = q.name AND available_at <= $3
				AND ` + handlerFilter + `
				AND NOT EXISTS (SELECT 1 FROM paused_queues p WHERE p.name = q.name)
			ORDER BY priority DESC, id
			LIMIT $5
			FOR UPDATE SKIP LOCKED
		) AS c
		ORDER BY c.priority DESC, c.id
		LIMIT $5))
	RETURNING ` + runColumns(true)
}

// RunClaim implements store.RunStore in one statement (see claimSQL).
//
// The claimed runs carry their secret token (Snapshot.SecretCfg): the
// worker needs it to run them, and a second query per run would cost the
// queue's throughput.
func (s *Store) RunClaim(ctx context.Context, p store.RunClaimParams) ([]*connecthub.Run, error) {
	sql, args, err := claimArgs(p)
	if err != nil {
		return nil, err
	}
	runs, err := s.queryRuns(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	sortClaimed(runs)
	return runs, nil
}

// claimArgs checks p and returns the claim statement (claimSQL, or
// claimPrefixSQL for a claim with handler prefixes) and its parameters.
func claimArgs(p store.RunClaimParams) (string, []any, error) {
	queues, handlers, err := p.Validate()
	if err != nil {
		return "", nil, err
	}
	args := []any{p.Node, utc(p.Now.Add(p.LeaseTTL)), utc(p.Now), queues, p.Max, handlers}
	if len(p.HandlerPrefixes) > 0 {
		return claimPrefixSQL, append(args, p.HandlerPrefixes), nil
	}
	return claimSQL, args, nil
}

// sortClaimed puts claimed runs in claim order: RETURNING has none.
func sortClaimed(runs []*connecthub.Run) {
	slices.SortFunc(runs, func(a, b *connecthub.Run) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// heartbeatSQL extends the leases of the runs that $3 (the node) holds
// among $4 (ids, ascending), each in its attempt from $5 (0: any), and
// returns them with their cancel requests. Like completeBatchSQL, it locks
// each run by id, in id order, in a LATERAL subquery, and checks the guard
// on the locked row, so that the cost of a heartbeat follows the number of
// ids it names, whatever the statistics say of the number of RUNNING runs.
//
// Parameters: $1 lease expiry, $2 now, $3 node, $4 ids, $5 attempts.
const heartbeatSQL = `UPDATE runs AS r SET lease_expires_at = $1, heartbeat_at = $2
	FROM (
		SELECT u.id FROM unnest($4::text[], $5::integer[]) AS u(id, attempt)
		CROSS JOIN LATERAL (
			SELECT status, node, attempt FROM runs WHERE runs.id = u.id LIMIT 1 FOR NO KEY UPDATE
		) AS held
		WHERE held.status = 'RUNNING' AND held.node = $3 AND (u.attempt = 0 OR held.attempt = u.attempt)
	) AS o
	WHERE r.id = o.id
	RETURNING r.id, r.cancel_requested`

// RunHeartbeat implements store.RunStore with one statement for all ids
// (heartbeatSQL).
func (s *Store) RunHeartbeat(ctx context.Context, p store.RunHeartbeatParams) (store.RunHeartbeatResult, error) {
	var res store.RunHeartbeatResult
	ids, err := p.Validate()
	if err != nil {
		return res, err
	}
	if len(ids) == 0 {
		return res, nil
	}
	attempts := make([]int32, len(ids))
	for i, id := range ids {
		attempts[i] = int32(p.Attempts[id])
	}
	db, err := s.db()
	if err != nil {
		return res, err
	}
	rows, err := db.Query(ctx, heartbeatSQL, utc(p.Now.Add(p.LeaseTTL)), utc(p.Now), p.Node, ids, attempts)
	if err != nil {
		return res, dbErr(err)
	}
	defer rows.Close()
	held := make(map[string]bool, len(ids))
	cancel := make(map[string]bool)
	for rows.Next() {
		var (
			id string
			cr bool
		)
		if err := rows.Scan(&id, &cr); err != nil {
			return res, dbErr(err)
		}
		held[id] = true
		cancel[id] = cr
	}
	if err := rows.Err(); err != nil {
		return res, dbErr(err)
	}
	return store.HeartbeatAnswer(p.IDs, held, cancel), nil
}

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
// RunComplete to complete where it can start the chain. It returns the ids
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
			AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = held.job_id
				AND ((u.status = 'SUCCESS' AND jobs.on_success <> '{}') OR (u.status = 'FAILURE' AND jobs.on_failure <> '{}')))
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

// RunRescue implements store.RunStore. The expired runs are locked with
// SKIP LOCKED, so rescuers on several replicas split the work instead of
// waiting for each other, and a run whose heartbeat is being written right
// now is left for the next round. A rescued run whose cancel was requested
// ends CANCELED rather than being re-queued: its worker is gone, and running
// it again is the opposite of what was asked.
func (s *Store) RunRescue(ctx context.Context, now time.Time, limit int) ([]*connecthub.Run, error) {
	if err := store.CheckRescue(now, limit); err != nil {
		return nil, err
	}
	var (
		rescued  []*connecthub.Run
		requeued bool
	)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		found, err := lockRescueCandidates(ctx, tx, `SELECT `+rescueCandidateColumns+`
			FROM runs WHERE status = 'RUNNING' AND lease_expires_at < $1
			ORDER BY lease_expires_at, id LIMIT $2
			FOR NO KEY UPDATE SKIP LOCKED`, utc(now), limit)
		if err != nil {
			return err
		}
		rescued, requeued, err = s.rescueRuns(ctx, tx, found, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if requeued {
		s.Publish(store.TopicRuns)
	}
	return rescued, nil
}

// rescueCandidate is what rescueRuns needs to know of a RUNNING run.
type rescueCandidate struct {
	id string
	runningRun
}

// rescueCandidateColumns selects a rescueCandidate (lockRescueCandidates
// scans them).
const rescueCandidateColumns = `id, node, attempt, max_attempts, attempts, started_at, cancel_requested`

// lockRescueCandidates runs query, which selects rescueCandidateColumns of
// the runs to rescue and locks them.
func lockRescueCandidates(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]rescueCandidate, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var found []rescueCandidate
	for rows.Next() {
		var (
			e                    rescueCandidate
			attempt, maxAttempts int32
		)
		if err := rows.Scan(&e.id, &e.node, &attempt, &maxAttempts, &e.attempts, &e.startedAt, &e.cancel); err != nil {
			return nil, dbErr(err)
		}
		e.attempt, e.maxAttempts = int(attempt), int(maxAttempts)
		found = append(found, e)
	}
	return found, dbErr(rows.Err())
}

// rescueRuns rescues locked RUNNING runs whose worker is gone (RunRescue:
// the lease expired; NodeMarkDead: the node went silent) in tx, in one
// round trip, so both follow one set of rules: a run with attempts left is
// re-queued with attempt+1, available at now, with a "worker lost" entry in
// its history; a run without ends FAILURE "worker lost"; a run whose cancel
// was requested ends CANCELED. When it re-queues any, it queues the
// TopicRuns notification in tx; the caller publishes in-process after
// commit. A run that ends FAILURE starts its job's on_failure chain in tx
// (whose notifications startChains queues). It returns the runs after the
// change and whether any was re-queued or a chained run queued.
func (s *Store) rescueRuns(ctx context.Context, tx pgx.Tx, found []rescueCandidate, now time.Time) ([]*connecthub.Run, bool, error) {
	if len(found) == 0 {
		return nil, false, nil
	}
	var (
		rescued  []*connecthub.Run
		requeued bool
	)
	nowUTC := utc(now)
	b := &pgx.Batch{}
	for _, e := range found {
		d, err := store.DecideRescue(&store.RescueCandidate{
			ID: e.id, Node: e.node, Attempt: e.attempt, MaxAttempts: e.maxAttempts,
			History: e.attempts, StartedAt: e.startedAt, CancelRequested: e.cancel,
		}, now)
		if err != nil {
			return nil, false, dbErr(err)
		}
		if !d.Requeue {
			b.Queue(`UPDATE runs SET status = $1, finished_at = $2, error = $3, lease_expires_at = NULL,
				updated_at = $2 WHERE id = $4 RETURNING `+runColumns(false),
				string(d.Status), nowUTC, d.Error, e.id)
			continue
		}
		b.Queue(`UPDATE runs SET status = 'QUEUED', attempt = attempt + 1, attempts = $1, available_at = $2,
			node = '', lease_expires_at = NULL, heartbeat_at = NULL, started_at = NULL,
			error = $3, traceback = '', result = NULL, updated_at = $2
			WHERE id = $4 RETURNING `+runColumns(false),
			d.History, nowUTC, d.Error, e.id)
		requeued = true
	}
	if requeued {
		s.queueNotify(b, store.TopicRuns)
	}
	br := tx.SendBatch(ctx, b)
	for range found {
		r, err := scanRun(br.QueryRow())
		if err != nil {
			br.Close()
			return nil, false, dbErr(err)
		}
		rescued = append(rescued, r)
	}
	if err := br.Close(); err != nil {
		return nil, false, dbErr(err)
	}
	var ends []store.ChainEnd
	for _, r := range rescued {
		if r.Status.Terminal() {
			ends = append(ends, store.ChainEnd{RunID: r.ID, JobID: r.JobID, Status: r.Status, Result: r.Result, Error: r.Error, At: now})
		}
	}
	chained, err := s.startChains(ctx, tx, ends)
	if err != nil {
		return nil, false, err
	}
	return rescued, requeued || chained.Queued, nil
}
