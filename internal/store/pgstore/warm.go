package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultMinConns is how many connections the pool opens when the store
// opens and keeps open from then on (see Options.MinConns): the worker
// pool's claims, completions and heartbeats and the scheduler's round use
// a few connections at a time, and each of them should be ready when the
// first run comes.
const defaultMinConns = 4

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
// one pipelined batch: one round trip per new connection.
//
// A failure is not the connection's: the statements fail the same way
// later, where their caller sees the error, so only a connection that the
// failure closed is refused.
func warmConn(ctx context.Context, conn *pgx.Conn) error {
	now := time.Now().UTC()
	var none runRows
	b := &pgx.Batch{}
	b.Queue(insertRunsSQL, none.args()...)
	cargs, _ := completeBatchArgs(nil, nil)
	b.Queue(completeBatchSQL, cargs...)
	b.Queue(heartbeatSQL, now, now, "", []string{}, []int32{})
	// Last: the plan setting holds until the batch's implicit transaction
	// ends, and only the claim runs on its generic plan.
	b.Queue(claimSettingsSQL)
	b.Queue(claimSQL, "", now, now, []string{}, 0, []string{})
	err := conn.SendBatch(ctx, b).Close()
	if err != nil && conn.IsClosed() {
		return err
	}
	return nil
}
