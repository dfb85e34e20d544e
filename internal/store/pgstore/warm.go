package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultMinConns is how many connections the pool opens when the store
// opens and keeps open from then on (see Options.MinConns): the worker
// pool's claims, completions and heartbeats and the scheduler's round use
// a few connections at a time, and each of them should be ready when the
// first run comes.
const defaultMinConns = 4

// warmTime is the time the warm-up's statements are given: with no rows to
// read or write, any time does, and none is read from a clock.
var warmTime = time.Unix(0, 0).UTC()

// warmLockTimeout bounds the warm-up's wait for a lock on the runs table
// (see warmConn).
const warmLockTimeout = "100ms"

// warmConn readies a new connection for the run path before the pool hands
// it out (the pool's AfterConnect). A PostgreSQL backend's first use of a
// statement costs several milliseconds more than the next ones: it loads
// the catalog entries of the runs table and its indexes, and the claim,
// which runs on its generic plan (claimPlanSQL), builds that plan. Without
// this, the first runs a node starts after its start, or after its pool
// opened a connection, each paid that on top of their enqueue-to-start
// latency (4-10 ms measured, where a warm claim takes 0.3 ms). The claim,
// the run insert, the batched completion and the heartbeat are run once
// each with no rows (empty arrays: they find, lock and change nothing), in
// a transaction that is rolled back: the prepared statements, the plan and
// the caches stay with the session, no setting does.
//
// The warm-up waits for no lock longer than warmLockTimeout (the
// statements take their locks when they are prepared, so the timeout is
// set before them): while another replica's migration holds the runs
// table, a new connection still serves the reads that do not need it (the
// readiness check, the job list) and is warmed by its first claim instead.
// A failure is not the connection's: the statements fail the same way
// later, where their caller sees the error. Only a connection the failure
// left unusable is refused.
func warmConn(ctx context.Context, conn *pgx.Conn) error {
	var none runRows
	if _, err := conn.PgConn().Exec(ctx, `BEGIN; SET LOCAL lock_timeout = '`+warmLockTimeout+`'`).ReadAll(); err != nil {
		return rollback(ctx, conn)
	}
	b := &pgx.Batch{}
	b.Queue(insertRunsSQL, none.args()...)
	cargs, _ := completeBatchArgs(nil, nil)
	b.Queue(completeBatchSQL, cargs...)
	b.Queue(heartbeatSQL, warmTime, warmTime, "", []string{}, []int32{})
	// Last: the plan setting holds until the transaction ends, and only the
	// claim runs on its generic plan.
	b.Queue(claimSettingsSQL)
	b.Queue(claimSQL, "", warmTime, warmTime, []string{}, 0, []string{})
	_ = conn.SendBatch(ctx, b).Close()
	return rollback(ctx, conn)
}

// rollback ends warmConn's transaction. Its error is the connection's:
// one still in a transaction cannot be handed out.
func rollback(ctx context.Context, conn *pgx.Conn) error {
	if conn.IsClosed() {
		return errors.New("the connection closed while it was readied")
	}
	_, err := conn.PgConn().Exec(ctx, `ROLLBACK`).ReadAll()
	return err
}
