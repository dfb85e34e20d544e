package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Chains: the SQL behind store.ChainStore and store.ChainTx. The single
// writer serializes every chain check with every write that could change
// its outcome, so no lock is needed beyond the write transaction.

// chainListJSON is the column value of a chain list: a JSON array, [] for
// none.
func chainListJSON(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ids) // a []string always marshals
	return string(b)
}

// decodeChainList reads a chain list column of job id.
func decodeChainList(id, col string) ([]string, error) {
	ids := []string{}
	if err := json.Unmarshal([]byte(col), &ids); err != nil {
		return nil, fmt.Errorf("job %s: decode chain list: %w", id, err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// Statements of chains. chainEdgesSQL runs in every completion that ends
// a run, so it is prepared with the completion's statements; it reads the
// jobs named by the JSON array ?1 that have chain lists.
//
// It first asks jobs_chained whether any job has a chain list: usually none
// has, and then the statement ends before it builds the table of ?1's ids
// (an ephemeral B-tree and a json_each cursor, 3% of a completion's CPU
// with 50 workers). CROSS JOIN keeps that question the outer loop, and
// LIMIT 1 makes it one row, so each job is read at most once.
const (
	chainEdgesSQL = `WITH chained AS (SELECT 1 FROM jobs INDEXED BY jobs_chained
			WHERE on_success <> '[]' OR on_failure <> '[]' LIMIT 1)
		SELECT id, on_success, on_failure FROM chained CROSS JOIN jobs
		WHERE id IN (SELECT value FROM json_each(?1)) AND (on_success <> '[]' OR on_failure <> '[]')`
	chainGraphSQL    = `SELECT id, on_success, on_failure FROM jobs WHERE on_success <> '[]' OR on_failure <> '[]'`
	chainUpstreamSQL = `SELECT id FROM jobs WHERE (on_success <> '[]' OR on_failure <> '[]')
		AND (EXISTS (SELECT 1 FROM json_each(on_success) WHERE value = ?1)
			OR EXISTS (SELECT 1 FROM json_each(on_failure) WHERE value = ?1))
		ORDER BY id`
)

// readChainGraph reads the chain lists that a query of id, on_success,
// on_failure returned (rows and err are the query's).
func readChainGraph(rows *sqlx.Rows, err error) (store.ChainGraph, error) {
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	g := store.ChainGraph{}
	for rows.Next() {
		var id, ok, failed string
		if err := rows.Scan(&id, &ok, &failed); err != nil {
			return nil, dbErr(err)
		}
		var e store.ChainEdges
		if e.OnSuccess, err = decodeChainList(id, ok); err != nil {
			return nil, err
		}
		if e.OnFailure, err = decodeChainList(id, failed); err != nil {
			return nil, err
		}
		g[id] = e
	}
	return g, dbErr(rows.Err())
}

// checkChainWrite applies store.CheckChainWrite to j in tx, the write
// transaction that is about to store j.
func checkChainWrite(ctx context.Context, tx *sqlx.Tx, j *connecthub.Job) error {
	if err := j.ValidateChains(); err != nil || !j.HasChains() {
		return err
	}
	graph, err := readChainGraph(tx.QueryxContext(ctx, chainGraphSQL))
	if err != nil {
		return err
	}
	ids := store.ChainIDs(j)
	exists := make(map[string]bool, len(ids))
	var found []string
	if err := tx.SelectContext(ctx, &found, `SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?))`,
		chainListJSON(ids)); err != nil {
		return dbErr(err)
	}
	for _, id := range found {
		exists[id] = true
	}
	return store.CheckChainWrite(j, graph, exists)
}

// checkChainDelete refuses, in tx, the delete of a job others chain to.
func checkChainDelete(ctx context.Context, tx *sqlx.Tx, id string) error {
	var upstream []string
	if err := tx.SelectContext(ctx, &upstream, chainUpstreamSQL, id); err != nil {
		return dbErr(err)
	}
	if len(upstream) > 0 {
		return store.ChainDeleteRefused(id, upstream)
	}
	return nil
}

// JobUpstream implements store.ChainStore.
func (s *Store) JobUpstream(ctx context.Context, id string) ([]string, error) {
	upstream := []string{}
	if err := s.r.SelectContext(ctx, &upstream, chainUpstreamSQL, id); err != nil {
		return nil, dbErr(err)
	}
	return upstream, nil
}

// RunChainChildren implements store.ChainStore through the
// runs_chain_parent index.
func (s *Store) RunChainChildren(ctx context.Context, parentID string) ([]*connecthub.Run, error) {
	return queryAll(ctx, s.r, func(sc scanner) (*connecthub.Run, error) { return scanRun(sc) },
		`SELECT `+store.RunColumns(false)+` FROM runs
		WHERE json_extract(meta, '$.parent_run') = ? AND "trigger" = 'chain' ORDER BY id`, parentID)
}

// chainTx is store.ChainTx in a write transaction. It counts the runs it
// finishes (SKIPPED inserts, canceled replaced runs) in counts, which the
// caller flushes.
type chainTx struct {
	tx     *sqlx.Tx
	edges  *sqlx.Stmt // chainEdgesSQL, prepared; nil to run it unprepared
	counts *finishCounts
}

// ChainEdges implements store.ChainTx.
func (c *chainTx) ChainEdges(ctx context.Context, jobIDs []string) (store.ChainGraph, error) {
	if c.edges != nil {
		return readChainGraph(c.tx.StmtxContext(ctx, c.edges).QueryxContext(ctx, chainListJSON(jobIDs)))
	}
	return readChainGraph(c.tx.QueryxContext(ctx, chainEdgesSQL, chainListJSON(jobIDs)))
}

// ChainJobs implements store.ChainTx.
func (c *chainTx) ChainJobs(ctx context.Context, ids []string) (map[string]*connecthub.Job, error) {
	jobs, err := queryAll(ctx, c.tx, scanJob, `SELECT `+store.JobColumns+` FROM jobs
		WHERE id IN (SELECT value FROM json_each(?))`, chainListJSON(ids))
	if err != nil {
		return nil, dbErr(err)
	}
	m := make(map[string]*connecthub.Job, len(jobs))
	for _, j := range jobs {
		m[j.ID] = j
	}
	return m, nil
}

// JobBusy implements store.ChainTx.
func (c *chainTx) JobBusy(ctx context.Context, jobID string) (bool, error) {
	var busy bool
	if err := c.tx.GetContext(ctx, &busy, fireActiveSQL, jobID); err != nil {
		return false, dbErr(err)
	}
	return busy, nil
}

// CancelActive implements store.ChainTx with JobsFire's statements.
func (c *chainTx) CancelActive(ctx context.Context, jobID string, now time.Time) (bool, error) {
	at := micros(now)
	res, err := c.tx.ExecContext(ctx, fireCancelQueuedSQL, at, connecthub.ReasonCanceled, jobID, store.ReplacedMessage)
	if err != nil {
		return false, dbErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, dbErr(err)
	}
	c.counts.add(jobID, connecthub.StatusCanceled, at, n)
	res, err = c.tx.ExecContext(ctx, fireCancelRunningSQL, at, jobID)
	if err != nil {
		return false, dbErr(err)
	}
	n, err = res.RowsAffected()
	return n > 0, dbErr(err)
}

// InsertChainRun implements store.ChainTx.
func (c *chainTx) InsertChainRun(ctx context.Context, r *connecthub.Run) error {
	args, err := runInsertArgs(nil, r)
	if err != nil {
		return err
	}
	if _, err := c.tx.ExecContext(ctx, insertRunsSQL(1), args...); err != nil {
		return dbErr(err)
	}
	c.counts.addRun(r) // a SKIPPED run is finished at once
	return nil
}

// startChains starts the chained runs of ends in tx (store.StartChains),
// counting what it finishes in counts.
func (s *Store) startChains(ctx context.Context, tx *sqlx.Tx, edges *sqlx.Stmt, counts *finishCounts, ends []store.ChainEnd) (store.ChainStarted, error) {
	if len(ends) == 0 {
		return store.ChainStarted{}, nil
	}
	return store.StartChains(ctx, &chainTx{tx: tx, edges: edges, counts: counts}, ends, &s.ids)
}

// publishChains publishes, after commit, what started chains need heard.
func (s *Store) publishChains(started store.ChainStarted) {
	if started.Queued {
		s.Publish(store.TopicRuns)
	}
	if started.CancelRequested {
		s.Publish(store.TopicCancel)
	}
}
