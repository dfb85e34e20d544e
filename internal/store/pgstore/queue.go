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
// per queue, before its runs are walked or locked. The picked rows are
// then updated where the lock found them (by ctid, a TID scan rather than
// a second walk of the primary key per run): they were QUEUED when they
// were locked, and the lock keeps them so. A row that another transaction
// changed and committed after this statement's snapshot (only then is the
// locked version one the update cannot see) is left out of the claim, not
// claimed twice: it stays where it is for the next claim.
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
	WHERE ctid = ANY(ARRAY(
		SELECT c.ctid FROM unnest($4::text[]) AS q(name)
		CROSS JOIN LATERAL (
			SELECT ctid, id, priority FROM runs
			WHERE status = 'QUEUED' AND queue = q.name AND available_at <= $3
				AND ` + handlerFilter + `
				AND NOT EXISTS (SELECT 1 FROM paused_queues p WHERE p.name = q.name)
			ORDER BY priority DESC, id
			LIMIT $5
			FOR UPDATE SKIP LOCKED
		) AS c
		ORDER BY c.priority DESC, c.id
		LIMIT $5))
	RETURNING ` + store.RunColumns(true)
}

// RunClaim implements store.RunStore in one statement (see claimSQL),
// sent after claimSettingsSQL in one pipelined batch: one round trip, one
// implicit transaction.
//
// The claimed runs carry their secret token (Snapshot.SecretCfg): the
// worker needs it to run them, and a second query per run would cost the
// queue's throughput.
func (s *Store) RunClaim(ctx context.Context, p store.RunClaimParams) ([]*connecthub.Run, error) {
	sql, args, err := claimArgs(p)
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(claimSettingsSQL)
	b.Queue(sql, args...)
	var runs []*connecthub.Run
	err = s.sendBatch(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		runs, err = collectRuns(br.Query())
		return err
	})
	if err != nil {
		return nil, dbErr(err)
	}
	sortClaimed(runs)
	return runs, nil
}

// claimPlanSQL makes the claim of its transaction use the statement's
// generic plan, and one that reads runs through its indexes only.
//
// The generic plan: PostgreSQL would otherwise plan every claim afresh
// (its custom plans look cheaper than the generic one, whose LIMIT and
// queues are unknown), and that planning measured a fifth of a claim's
// time on the server.
//
// No sequential scan (enable_seqscan off, for this transaction only): the
// generic plan is built once per connection, when the connection is
// readied (warmConn), and kept until the table's statistics change. On a
// new installation that is an empty runs table that was never analyzed,
// and a runs table that was analyzed while empty looks just as small. On
// such a table a sequential scan looks cheapest, both for the walk of the
// queued runs (instead of runs_claim) and for the update (instead of the
// TID scan), and the plan kept it while the table filled: every claim
// then read the whole table and tested each row against the claimed TIDs,
// 170-190 ms for a claim of 1,000 out of 40,000 runs instead of 19 ms,
// until autovacuum's first ANALYZE of runs made the plans be rebuilt.
// Without sequential scans the plan walks runs_claim and updates by TID
// whatever the statistics say; TestQueuePlans checks it on a populated
// table, TestClaimPlanOnEmptyTable on an empty one, analyzed and not.
// Nothing else in the claim's transaction needs a sequential scan: its
// statement triggers read their transition tables and alert_rules, a
// handful of rows that its primary key serves as well.
const claimPlanSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
	set_config('enable_seqscan', 'off', true)`

// claimSettingsSQL is claimPlanSQL for a transaction that only claims, and
// lets that transaction's commit return without waiting for its WAL flush
// (synchronous_commit off for this transaction only; every other write,
// and a claim sent with outcomes, still waits for it). A claim is a lease,
// which the queue already treats as something that can be lost: if the
// server crashes within the moment before the claim's WAL reaches disk
// (at most wal_writer_delay, 200 ms by default), the claim is forgotten
// and its runs are QUEUED again, as after a rescue. The worker that
// claimed them learns it at its next heartbeat (their leases are not held)
// and cancels their handlers; their outcomes are not recorded; another
// claim runs them again, which is the at-least-once the queue already
// gives after a lost lease. A claim's WAL is flushed anyway by the next
// durable commit (WAL is written in order), so a run whose outcome was
// recorded was never claimed by a forgotten claim. What it buys is the
// claim loop's round trip: a claim no longer waits for a disk flush (about
// 1 ms of its 3 on a durable server), so a node with short runs claims
// more often (docs/benchmarks-write-path.md).
const claimSettingsSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
	set_config('enable_seqscan', 'off', true), set_config('synchronous_commit', 'off', true)`

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
		found, err := lockRescueCandidates(ctx, tx, rescueSQL, utc(now), limit)
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

// rescueSQL locks up to $2 runs whose lease expired before $1, soonest
// expired first. It finds them among the RUNNING runs through the partial
// index runs_running, which holds the work in flight and nothing else: no
// index holds lease_expires_at, so that a heartbeat, which changes only the
// lease, is a HOT update that adds no index entry (migration 0020).
const rescueSQL = `SELECT ` + rescueCandidateColumns + `
	FROM runs WHERE status = 'RUNNING' AND lease_expires_at < $1
	ORDER BY lease_expires_at, id LIMIT $2
	FOR NO KEY UPDATE SKIP LOCKED`

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
				updated_at = $2 WHERE id = $4 RETURNING `+store.RunColumns(false),
				string(d.Status), nowUTC, d.Error, e.id)
			continue
		}
		b.Queue(`UPDATE runs SET status = 'QUEUED', attempt = attempt + 1, attempts = $1, available_at = $2,
			node = '', lease_expires_at = NULL, heartbeat_at = NULL, started_at = NULL,
			error = $3, traceback = '', result = NULL, updated_at = $2
			WHERE id = $4 RETURNING `+store.RunColumns(false),
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
