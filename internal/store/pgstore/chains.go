package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Chains: the SQL behind store.ChainStore and store.ChainTx.
//
// Concurrent writers could each add one edge of a cycle without seeing
// the other's, or add an edge to a job that another deletes. So every
// write that adds chain edges, and every delete, first takes one
// transaction-scoped advisory lock (chainLockSQL) and then reads the other
// jobs: under READ COMMITTED each statement after the lock sees what the
// previous holder committed. Writes without chain lists take no lock. A
// delete locks the job's row before the advisory lock, as an update does,
// so the two never wait for each other in opposite orders.

// chainLockKey is the advisory lock of chain checks (an arbitrary
// constant: "chains" in ASCII).
const chainLockKey int64 = 0x636861696e73

const (
	chainLockSQL  = `SELECT pg_advisory_xact_lock($1)`
	chainGraphSQL = `SELECT id, on_success, on_failure FROM jobs WHERE on_success <> '{}' OR on_failure <> '{}'`
	// chainEdgesSQL reads the chain lists of the jobs among $1 that have any.
	chainEdgesSQL = `SELECT id, on_success, on_failure FROM jobs
		WHERE id = ANY($1) AND (on_success <> '{}' OR on_failure <> '{}')`
	chainUpstreamSQL = `SELECT id FROM jobs WHERE $1 = ANY(on_success) OR $1 = ANY(on_failure) ORDER BY id`
	// chainJobsSQL locks the downstream jobs in id order, so that ends
	// starting the same job take turns (each sees the runs the previous
	// one inserted), as does a cron fire of it (its compare-and-set
	// updates the row).
	chainJobsSQL = `SELECT ` + store.JobColumns + ` FROM jobs WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`
	// chainActiveSQL reports whether a job has a QUEUED or RUNNING run, one
	// partial index per status (runs_queued_job, runs_running).
	chainActiveSQL = `SELECT EXISTS (SELECT 1 FROM runs WHERE job_id = $1 AND status = 'QUEUED')
		OR EXISTS (SELECT 1 FROM runs WHERE job_id = $1 AND status = 'RUNNING')`
)

// chainList is a chain list as stored: never nil (the column is NOT NULL).
func chainList(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// readChainGraph reads rows of id, on_success, on_failure.
func readChainGraph(rows pgx.Rows, err error) (store.ChainGraph, error) {
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	g := store.ChainGraph{}
	for rows.Next() {
		var (
			id string
			e  store.ChainEdges
		)
		if err := rows.Scan(&id, &e.OnSuccess, &e.OnFailure); err != nil {
			return nil, dbErr(err)
		}
		g[id] = e
	}
	return g, dbErr(rows.Err())
}

// checkChainWrite applies store.CheckChainWrite to j in tx, the
// transaction about to store j, under the chain lock.
func checkChainWrite(ctx context.Context, tx pgx.Tx, j *connecthub.Job) error {
	if err := j.ValidateChains(); err != nil || !j.HasChains() {
		return err
	}
	if _, err := tx.Exec(ctx, chainLockSQL, chainLockKey); err != nil {
		return dbErr(err)
	}
	graph, err := readChainGraph(tx.Query(ctx, chainGraphSQL))
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT id FROM jobs WHERE id = ANY($1)`, store.ChainIDs(j))
	if err != nil {
		return dbErr(err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return dbErr(err)
	}
	exists := make(map[string]bool, len(found))
	for _, id := range found {
		exists[id] = true
	}
	return store.CheckChainWrite(j, graph, exists)
}

// checkChainDelete refuses, in tx, the delete of a job that others chain
// to. It locks the job's row, then takes the chain lock (see the order
// above); a job that does not exist is left to the delete to report.
func checkChainDelete(ctx context.Context, tx pgx.Tx, id string) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE`, id); err != nil {
		return dbErr(err)
	}
	if _, err := tx.Exec(ctx, chainLockSQL, chainLockKey); err != nil {
		return dbErr(err)
	}
	rows, err := tx.Query(ctx, chainUpstreamSQL, id)
	if err != nil {
		return dbErr(err)
	}
	upstream, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return dbErr(err)
	}
	if len(upstream) > 0 {
		return store.ChainDeleteRefused(id, upstream)
	}
	return nil
}

// JobUpstream implements store.ChainStore.
func (s *Store) JobUpstream(ctx context.Context, id string) ([]string, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, chainUpstreamSQL, cleanText(id))
	if err != nil {
		return nil, dbErr(err)
	}
	upstream, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, dbErr(err)
	}
	return chainList(upstream), nil
}

// RunChainChildren implements store.ChainStore through the
// runs_chain_parent index.
func (s *Store) RunChainChildren(ctx context.Context, parentID string) ([]*connecthub.Run, error) {
	return s.queryRuns(ctx, `SELECT `+store.RunColumns(false)+` FROM runs
		WHERE meta->>'parent_run' = $1 AND "trigger" = 'chain' ORDER BY id`, cleanText(parentID))
}

// chainTx is store.ChainTx in a transaction.
type chainTx struct{ tx pgx.Tx }

// ChainEdges implements store.ChainTx.
func (c chainTx) ChainEdges(ctx context.Context, jobIDs []string) (store.ChainGraph, error) {
	return readChainGraph(c.tx.Query(ctx, chainEdgesSQL, jobIDs))
}

// ChainJobs implements store.ChainTx, locking the jobs.
func (c chainTx) ChainJobs(ctx context.Context, ids []string) (map[string]*connecthub.Job, error) {
	rows, err := c.tx.Query(ctx, chainJobsSQL, ids)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	m := make(map[string]*connecthub.Job, len(ids))
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		m[j.ID] = j
	}
	return m, dbErr(rows.Err())
}

// JobBusy implements store.ChainTx.
func (c chainTx) JobBusy(ctx context.Context, jobID string) (bool, error) {
	var busy bool
	err := c.tx.QueryRow(ctx, chainActiveSQL, jobID).Scan(&busy)
	return busy, dbErr(err)
}

// CancelActive implements store.ChainTx with JobsFire's statements.
func (c chainTx) CancelActive(ctx context.Context, jobID string, now time.Time) (bool, error) {
	jobs, nows := []string{jobID}, []time.Time{utc(now)}
	if _, err := c.tx.Exec(ctx, fireCancelQueuedSQL, jobs, nows, connecthub.ReasonCanceled, store.ReplacedMessage); err != nil {
		return false, dbErr(err)
	}
	var n int64
	if err := c.tx.QueryRow(ctx, fireCancelRunningSQL, jobs, nows).Scan(&n); err != nil {
		return false, dbErr(err)
	}
	return n > 0, nil
}

// InsertChainRun implements store.ChainTx.
func (c chainTx) InsertChainRun(ctx context.Context, r *connecthub.Run) error {
	cleanRunText(r)
	var cols runRows
	if err := cols.add(r); err != nil {
		return err
	}
	_, err := c.tx.Exec(ctx, insertRunsSQL, cols.args()...)
	return dbErr(err)
}

// startChains starts the chained runs of ends in tx (store.StartChains)
// and queues the notifications they need in tx.
func (s *Store) startChains(ctx context.Context, tx pgx.Tx, ends []store.ChainEnd) (store.ChainStarted, error) {
	if len(ends) == 0 {
		return store.ChainStarted{}, nil
	}
	started, err := store.StartChains(ctx, chainTx{tx}, ends, &s.ids)
	if err != nil {
		return started, err
	}
	if started.Queued {
		if err := s.notify(ctx, tx, store.TopicRuns); err != nil {
			return started, err
		}
	}
	if started.CancelRequested {
		if err := s.notify(ctx, tx, store.TopicCancel); err != nil {
			return started, err
		}
	}
	return started, nil
}

// publishChains publishes in-process, after commit, what started chains
// need heard.
func (s *Store) publishChains(started store.ChainStarted) {
	if started.Queued {
		s.Publish(store.TopicRuns)
	}
	if started.CancelRequested {
		s.Publish(store.TopicCancel)
	}
}

// chainedOutcomes returns the indexes of the terminal outcomes that did
// not apply through completeBatchSQL, which leaves alone the runs whose
// end starts a chain: those are completed again in a transaction that can
// start it (completeInTx), which also tells them from stale outcomes.
func chainedOutcomes(outcomes []store.RunOutcome, applied []bool) []int {
	var redo []int
	for i, o := range outcomes {
		if !applied[i] && (o.Status == connecthub.StatusSuccess || o.Status == connecthub.StatusFailure) {
			redo = append(redo, i)
		}
	}
	return redo
}
