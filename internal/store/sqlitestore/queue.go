package sqlitestore

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// RunClaim implements store.RunStore with one UPDATE ... RETURNING in one
// write transaction. With a single queue the inner SELECT walks the
// runs_claim index in claim order and stops after Max rows; with several
// queues each queue's walk is bounded the same way and the union of at most
// Max*len(Queues) ids is sorted, never the whole backlog.
//
// The claimed runs carry their secret token (Snapshot.SecretCfg): the
// worker needs it to run them, and a second query per run would cost the
// queue's throughput.
func (s *Store) RunClaim(ctx context.Context, p store.RunClaimParams) ([]*connecthub.Run, error) {
	c, err := s.prepareClaim(ctx, p)
	if err != nil {
		return nil, err
	}
	defer c.release()
	var runs []*connecthub.Run
	err = s.write(ctx, func(tx *sqlx.Tx) error {
		runs, err = c.exec(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return runs, nil
}

// preparedClaim is a checked claim with its statement, ready to execute in
// a write transaction (RunClaim's, or RunCompleteAndClaim's).
type preparedClaim struct {
	st         *sqlx.Stmt
	release    func()
	args       []any
	node       string
	lease, now int64 // unix microseconds, as the claim writes them
}

// prepareClaim checks p and prepares its statement. The statement must be
// prepared before the write transaction begins (see stmtCache); call
// release when done.
func (s *Store) prepareClaim(ctx context.Context, p store.RunClaimParams) (*preparedClaim, error) {
	queues, handlers, err := p.Validate()
	if err != nil {
		return nil, err
	}
	prefixes := p.HandlerPrefixes
	st, release, err := s.stmts.prepare(ctx, claimSQL(len(queues), len(handlers), len(prefixes)))
	if err != nil {
		return nil, err
	}

	now, lease := micros(p.Now), micros(p.Now.Add(p.LeaseTTL))
	args := make([]any, 0, 4+len(queues)+len(handlers)+len(prefixes))
	args = append(args, p.Node, lease, now, p.Max)
	for _, q := range queues {
		args = append(args, q)
	}
	for _, h := range handlers {
		args = append(args, h)
	}
	for _, hp := range prefixes {
		args = append(args, hp)
	}
	return &preparedClaim{st: st, release: release, args: args, node: p.Node, lease: lease, now: now}, nil
}

// exec claims in tx and returns the runs in claim order.
func (c *preparedClaim) exec(ctx context.Context, tx *sqlx.Tx) ([]*connecthub.Run, error) {
	var runs []*connecthub.Run
	rows, err := tx.StmtxContext(ctx, c.st).QueryContext(ctx, c.args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanClaimed(rows, c.node, c.lease, c.now)
		if err != nil {
			return nil, dbErr(err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	// RETURNING has no order; hand the runs out in claim order.
	slices.SortFunc(runs, func(a, b *connecthub.Run) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return runs, nil
}

// claimTexts memoises claimSQL: claimers call it with the same shape every
// time, and building the text is measurable at thousands of claims a second.
var claimTexts sync.Map // [3]int{queues, handlers, prefixes} -> string

// claimSQL returns the claim statement. Parameters: ?1 node, ?2 lease
// expiry, ?3 now, ?4 max, then the queues, then the handlers, then the
// handler prefixes (a run whose handler starts with one is claimed too).
//
// The runs are picked by rowid, which the entries of runs_claim carry, so
// that the update reaches each row directly rather than through the index
// of ids (4% more claims a second).
//
// The limits are written `LIMIT +?4`, not `LIMIT ?4`. SQLite (3.54) plans
// a `LIMIT ?` with the value bound at the time, and so marks the statement
// to be compiled again whenever that parameter is bound to a different
// value: a worker's claims ask for as many runs as it has free slots, which
// changes from one claim to the next, so nearly every claim parsed and
// planned the cached statement anew (9% of a node's CPU with 50 workers).
// The unary plus makes the limit an expression whose value the planner
// does not look at; the plan is the same, as it was planned without the
// value the first time. TestHotStatementsNotReprepared checks it.
func claimSQL(nQueues, nHandlers, nPrefixes int) string {
	key := [3]int{nQueues, nHandlers, nPrefixes}
	if sql, ok := claimTexts.Load(key); ok {
		return sql.(string)
	}
	sql := buildClaimSQL(nQueues, nHandlers, nPrefixes)
	claimTexts.Store(key, sql)
	return sql
}

func buildClaimSQL(nQueues, nHandlers, nPrefixes int) string {
	var tests []string
	if nHandlers > 0 {
		ps := make([]string, nHandlers)
		for i := range ps {
			ps[i] = "?" + strconv.Itoa(5+nQueues+i)
		}
		tests = append(tests, "handler IN ("+strings.Join(ps, ", ")+")")
	}
	// substr rather than LIKE: handler names contain _, which LIKE reads
	// as a wildcard.
	for i := range nPrefixes {
		p := "?" + strconv.Itoa(5+nQueues+nHandlers+i)
		tests = append(tests, "substr(handler, 1, length("+p+")) = "+p)
	}
	handlerFilter := ""
	if len(tests) > 0 {
		handlerFilter = " AND (" + strings.Join(tests, " OR ") + ")"
	}
	pick := func(q int, cols string) string {
		return `SELECT ` + cols + ` FROM runs
			WHERE status = 'QUEUED' AND queue = ?` + strconv.Itoa(5+q) + ` AND available_at <= ?3` + handlerFilter + `
				AND NOT EXISTS (SELECT 1 FROM paused_queues WHERE name = ?` + strconv.Itoa(5+q) + `)
			ORDER BY priority DESC, id LIMIT +?4`
	}
	ids := pick(0, "rowid")
	if nQueues > 1 {
		parts := make([]string, nQueues)
		for q := range parts {
			parts[q] = "SELECT * FROM (" + pick(q, "rowid AS rid, id, priority") + ")"
		}
		ids = "SELECT rid FROM (" + strings.Join(parts, " UNION ALL ") + ") ORDER BY priority DESC, id LIMIT +?4"
	}
	return `UPDATE runs SET status = 'RUNNING', node = ?1, lease_expires_at = ?2, heartbeat_at = ?3,
		started_at = ?3, updated_at = ?3
		WHERE rowid IN (` + ids + `)
		RETURNING ` + claimedColumns
}

// maxHeartbeatChunk bounds the runs of one heartbeat statement.
const maxHeartbeatChunk = 512

// heartbeatSQL extends the leases of up to n runs in one statement: the
// (id, attempt) pairs are a VALUES table joined to runs by id, like
// completeBatchSQL (the unary + makes SQLite look each id up by key). An
// attempt of 0 matches any. Parameters: ?1 lease expiry, ?2 now, ?3 node,
// then the pairs.
func heartbeatSQL(n int) string {
	var b strings.Builder
	b.WriteString(`UPDATE runs SET lease_expires_at = ?1, heartbeat_at = ?2
		FROM (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(?%d, ?%d)", 4+2*i, 5+2*i)
	}
	b.WriteString(`) AS v
		WHERE runs.id = v.column1 AND +runs.status = 'RUNNING' AND runs.node = ?3
			AND (v.column2 = 0 OR runs.attempt = v.column2)
		RETURNING runs.id, runs.cancel_requested`)
	return b.String()
}

// RunHeartbeat implements store.RunStore with one UPDATE ... RETURNING per
// 512 ids. The list is padded to a power of two (repeating the last id)
// so that a few statement texts serve every batch size.
func (s *Store) RunHeartbeat(ctx context.Context, p store.RunHeartbeatParams) (store.RunHeartbeatResult, error) {
	var res store.RunHeartbeatResult
	ids, err := p.Validate()
	if err != nil {
		return res, err
	}
	if len(ids) == 0 {
		return res, nil
	}
	type batch struct {
		st      *sqlx.Stmt
		ids     []string
		release func()
	}
	var batches []batch
	defer func() {
		for _, b := range batches {
			b.release()
		}
	}()
	for rest := ids; len(rest) > 0; {
		n := min(len(rest), maxHeartbeatChunk)
		size := 1 << bits.Len(uint(n-1)) // next power of two >= n
		st, release, err := s.stmts.prepare(ctx, heartbeatSQL(size))
		if err != nil {
			return res, err
		}
		batches = append(batches, batch{st: st, ids: rest[:n], release: release})
		rest = rest[n:]
	}
	held := make(map[string]bool, len(ids))
	cancel := make(map[string]bool)
	lease, now := micros(p.Now.Add(p.LeaseTTL)), micros(p.Now)
	err = s.write(ctx, func(tx *sqlx.Tx) error {
		for _, b := range batches {
			size := 1 << bits.Len(uint(len(b.ids)-1))
			args := make([]any, 0, 3+2*size)
			args = append(args, lease, now, p.Node)
			for i := range size {
				id := b.ids[min(i, len(b.ids)-1)]
				args = append(args, id, int64(p.Attempts[id]))
			}
			rows, err := tx.StmtxContext(ctx, b.st).QueryContext(ctx, args...)
			if err != nil {
				return dbErr(err)
			}
			for rows.Next() {
				var (
					id string
					cr bool
				)
				if err := rows.Scan(&id, &cr); err != nil {
					rows.Close()
					return dbErr(err)
				}
				held[id] = true
				cancel[id] = cr
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return dbErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	return store.HeartbeatAnswer(p.IDs, held, cancel), nil
}
