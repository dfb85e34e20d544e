package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// Statements of RunComplete. Each is guarded by status, node and, when the
// outcome names one (not 0), attempt.
const (
	completeTerminalSQL = `UPDATE runs SET status = ?1, finished_at = ?2, message = ?3, error = ?4,
		traceback = ?5, result = ?6, lease_expires_at = NULL, updated_at = ?2
		WHERE id = ?7 AND status = 'RUNNING' AND node = ?8 AND (?9 = 0 OR attempt = ?9)
		RETURNING job_id`
	completeLookupSQL = `SELECT attempt, max_attempts, attempts, started_at, cancel_requested, error
		FROM runs WHERE id = ?1 AND status = 'RUNNING' AND node = ?2 AND (?3 = 0 OR attempt = ?3)`
	completeRetrySQL = `UPDATE runs SET status = 'QUEUED', attempt = attempt + 1, attempts = ?1,
		available_at = ?2, node = '', lease_expires_at = NULL, heartbeat_at = NULL, started_at = NULL,
		message = ?3, error = ?4, traceback = ?5, result = NULL, updated_at = ?6
		WHERE id = ?7`
	completeHandBackSQL = `UPDATE runs SET status = 'QUEUED', available_at = ?1, node = '',
		lease_expires_at = NULL, heartbeat_at = NULL, started_at = NULL, updated_at = ?1
		WHERE id = ?2`
)

// completeBatchSQL finishes up to n runs in one statement: the outcomes are
// a VALUES table joined to runs by id. The unary + keeps SQLite from
// walking every RUNNING run through the status index instead of looking
// each id up. Columns: id, status, now, message, error, traceback, result,
// node, attempt (0: any).
func completeBatchSQL(n int) string {
	if sql, ok := completeBatchTexts[n]; ok {
		return sql
	}
	return buildCompleteBatchSQL(n)
}

var completeBatchTexts = func() map[int]string {
	m := make(map[int]string)
	for _, n := range completeBatchSizes {
		m[n] = buildCompleteBatchSQL(n)
	}
	return m
}()

// completeBatchSizes are the row counts of the completion statements: a
// batch is padded up to the next one (see completeChunks), so that a
// batch of up to maxCompleteChunk outcomes is one statement whatever its
// size, and a few texts serve every size.
var completeBatchSizes = []int{1, 2, 4, 8, 16, 24, 32, 48, 64, 96, maxCompleteChunk}

// completeChunks splits n outcomes into statements: each chunk's count of
// outcomes and the statement size it is padded to. A statement costs a
// fixed setup (its VALUES and RETURNING tables, its cursors) whatever its
// rows, which splitting a batch of 47 into powers of two (32+8+4+2+1)
// paid five times; a padding row names no run (its id is empty) and costs
// one missed lookup.
func completeChunks(n int) (rows, sizes []int) {
	for n > 0 {
		k := min(n, maxCompleteChunk)
		i, _ := slices.BinarySearch(completeBatchSizes, k)
		rows, sizes = append(rows, k), append(sizes, completeBatchSizes[i])
		n -= k
	}
	return rows, sizes
}

// completePadding is the VALUES row that fills a completion statement up
// to its size: its id is NULL, which equals no run's id, so it updates
// nothing.
var completePadding = []any{nil, nil, nil, nil, nil, nil, nil, nil, nil}

func buildCompleteBatchSQL(n int) string {
	var b strings.Builder
	b.WriteString(`UPDATE runs SET status = v.column2, finished_at = v.column3, message = v.column4,
		error = v.column5, traceback = v.column6, result = v.column7, lease_expires_at = NULL,
		updated_at = v.column3
		FROM (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + placeholders(9) + ")")
	}
	b.WriteString(`) AS v
		WHERE runs.id = v.column1 AND +runs.status = 'RUNNING' AND runs.node = v.column8
			AND (v.column9 = 0 OR runs.attempt = v.column9)
		RETURNING runs.id, runs.job_id`)
	return b.String()
}

// maxCompleteChunk bounds the outcomes of one completeBatchSQL statement.
const maxCompleteChunk = 128

// RunComplete implements store.RunStore: the whole batch in one write
// transaction. Terminal outcomes (the hot path) are applied by a few
// multi-row UPDATE ... FROM (VALUES ...) statements, each guarded by
// status, node and attempt; re-queues, which need the run's attempt
// history, go one by one.
//
// What a re-queue writes is store.DecideCompletion's.
func (s *Store) RunComplete(ctx context.Context, outcomes []store.RunOutcome) ([]bool, error) {
	if len(outcomes) == 0 {
		return []bool{}, nil
	}
	c, err := s.prepareComplete(ctx, outcomes)
	if err != nil {
		return nil, err
	}
	defer c.release()
	if err := s.write(ctx, func(tx *sqlx.Tx) error { return c.exec(ctx, tx) }); err != nil {
		return nil, err
	}
	if c.requeued {
		s.Publish(store.TopicRuns)
	}
	s.publishChains(c.chained)
	return c.applied, nil
}

// preparedCompletion is a checked batch of outcomes with its statements,
// ready to apply in a write transaction (RunComplete's, or
// RunCompleteAndClaim's). After exec, applied says which outcomes applied
// and requeued whether any run was put back in the queue (the caller
// publishes TopicRuns after the commit).
type preparedCompletion struct {
	s        *Store
	outcomes []store.RunOutcome
	terminal []int // indexes of terminal outcomes
	batched  bool  // terminal outcomes go in multi-row statements
	stmts    map[string]*sqlx.Stmt
	releases []func()
	counts   finishCounts // the runs exec finished, for the maintained counts
	events   runEvents    // the alert events of the runs exec changed
	ends     []store.ChainEnd

	applied  []bool
	requeued bool
	chained  store.ChainStarted // the runs the ends started
}

// prepareComplete checks outcomes and prepares the statements that apply
// them. The statements must be prepared before the write transaction
// begins (see stmtCache); call release when done.
func (s *Store) prepareComplete(ctx context.Context, outcomes []store.RunOutcome) (*preparedCompletion, error) {
	var (
		terminal []int // indexes of terminal outcomes
		requeue  []int // indexes of QUEUED outcomes
		seen     = make(map[string]bool, len(outcomes))
		repeated bool
	)
	if _, err := store.ValidateOutcomes(outcomes); err != nil {
		return nil, err
	}
	for i, o := range outcomes {
		if o.Status == connecthub.StatusQueued {
			requeue = append(requeue, i)
		} else {
			terminal = append(terminal, i)
		}
		repeated = repeated || seen[o.ID]
		seen[o.ID] = true
	}
	// A batch that names a run twice is applied one outcome at a time, in
	// order, so that the first outcome that applies wins, exactly as if the
	// outcomes had come in separate calls.
	batched := !repeated && len(terminal) > 1
	var queries []string
	if batched {
		_, sizes := completeChunks(len(terminal))
		for _, size := range sizes {
			queries = append(queries, completeBatchSQL(size))
		}
	} else {
		queries = append(queries, completeTerminalSQL)
	}
	if len(requeue) > 0 {
		queries = append(queries, completeTerminalSQL, completeLookupSQL, completeRetrySQL, completeHandBackSQL)
	}
	queries = append(queries, chainEdgesSQL)
	c := &preparedCompletion{
		s:        s,
		outcomes: outcomes,
		terminal: terminal,
		batched:  batched,
		stmts:    make(map[string]*sqlx.Stmt, len(queries)),
		applied:  make([]bool, len(outcomes)),
	}
	for _, q := range queries {
		if _, ok := c.stmts[q]; ok {
			continue
		}
		st, release, err := s.stmts.prepare(ctx, q)
		if err != nil {
			c.release()
			return nil, err
		}
		c.releases = append(c.releases, release)
		c.stmts[q] = st
	}
	return c, nil
}

// release gives back the prepared statements.
func (c *preparedCompletion) release() {
	for _, r := range c.releases {
		r()
	}
}

// exec applies the outcomes in tx.
func (c *preparedCompletion) exec(ctx context.Context, tx *sqlx.Tx) error {
	stmt := func(q string) *sqlx.Stmt { return tx.StmtxContext(ctx, c.stmts[q]) }
	if c.batched {
		if err := completeBatch(ctx, tx, stmt, c.outcomes, c.terminal, c.applied, &c.counts, &c.events, &c.ends); err != nil {
			return err
		}
	}
	for i, o := range c.outcomes {
		if c.batched && o.Status != connecthub.StatusQueued {
			continue
		}
		var (
			ok  bool
			err error
		)
		if o.Status == connecthub.StatusQueued {
			ok, err = c.s.requeue(ctx, stmt, o, &c.counts, &c.events, &c.ends)
			c.requeued = c.requeued || ok
		} else {
			ok, err = finishOne(ctx, stmt, &c.counts, &c.events, &c.ends, o, o.Status, o.Error)
		}
		if err != nil {
			return err
		}
		c.applied[i] = ok
	}
	// The runs that ended start their chains in this transaction.
	var err error
	if c.chained, err = c.s.startChains(ctx, tx, c.stmts[chainEdgesSQL], &c.counts, c.ends); err != nil {
		return err
	}
	if err := c.events.flush(ctx, tx, &c.s.stmts); err != nil {
		return err
	}
	return c.counts.flush(ctx, tx, &c.s.stmts)
}

// finishOne ends the run of o with status and errText if it is still
// RUNNING on o's node (in o's attempt), counts it in counts, adds its
// alert events to events and it to ends, and reports whether it did.
func finishOne(ctx context.Context, stmt func(string) *sqlx.Stmt, counts *finishCounts, events *runEvents, ends *[]store.ChainEnd, o store.RunOutcome, status connecthub.RunStatus, errText string) (bool, error) {
	var job string
	err := stmt(completeTerminalSQL).QueryRowxContext(ctx, string(status), micros(o.Now), o.Message, errText, o.Traceback,
		nullJSON(o.Result), o.ID, o.Node, int64(o.Attempt)).Scan(&job)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, dbErr(err)
	}
	counts.add(job, status, micros(o.Now), 1)
	events.left(o.ID, status, errText, micros(o.Now))
	*ends = append(*ends, store.ChainEnd{RunID: o.ID, JobID: job, Status: status, Result: o.Result, Error: errText, At: o.Now})
	return true, nil
}

// completeBatch applies the terminal outcomes (whose ids are distinct) in
// multi-row statements and marks which applied. The alert events go to
// events in the order the statement changed the runs (RETURNING's order).
func completeBatch(ctx context.Context, tx *sqlx.Tx, stmt func(string) *sqlx.Stmt, outcomes []store.RunOutcome, terminal []int, applied []bool, counts *finishCounts, events *runEvents, ends *[]store.ChainEnd) error {
	index := make(map[string]int, len(terminal))
	chunkRows, sizes := completeChunks(len(terminal))
	args := make([]any, 0, 9*sizes[0])
	for c, size := range sizes {
		args = args[:0]
		for _, i := range terminal[:chunkRows[c]] {
			o := outcomes[i]
			index[o.ID] = i
			args = append(args, o.ID, string(o.Status), micros(o.Now), o.Message, o.Error, o.Traceback, nullJSON(o.Result), o.Node, int64(o.Attempt))
		}
		for range size - chunkRows[c] {
			args = append(args, completePadding...)
		}
		terminal = terminal[chunkRows[c]:]
		rows, err := stmt(completeBatchSQL(size)).QueryContext(ctx, args...)
		if err != nil {
			return dbErr(err)
		}
		for rows.Next() {
			// The status and the finish time written are the outcome's.
			var id, job string
			if err := rows.Scan(&id, &job); err != nil {
				rows.Close()
				return dbErr(err)
			}
			applied[index[id]] = true
			o := &outcomes[index[id]]
			counts.add(job, o.Status, micros(o.Now), 1)
			events.left(id, o.Status, o.Error, micros(o.Now))
			*ends = append(*ends, store.ChainEnd{RunID: id, JobID: job, Status: o.Status, Result: o.Result, Error: o.Error, At: o.Now})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr(err)
		}
	}
	return nil
}

// requeue applies one QUEUED outcome: a retry (ConsumeAttempt) or a
// hand-back. It reports whether the run was still held by the node (in the
// outcome's attempt).
func (s *Store) requeue(ctx context.Context, stmt func(string) *sqlx.Stmt, o store.RunOutcome, counts *finishCounts, events *runEvents, ends *[]store.ChainEnd) (bool, error) {
	var cur struct {
		Attempt     int           `db:"attempt"`
		MaxAttempts int           `db:"max_attempts"`
		Attempts    []byte        `db:"attempts"`
		StartedAt   sql.NullInt64 `db:"started_at"`
		Cancel      bool          `db:"cancel_requested"`
		Error       string        `db:"error"`
	}
	if err := stmt(completeLookupSQL).GetContext(ctx, &cur, o.ID, o.Node, int64(o.Attempt)); errors.Is(err, sql.ErrNoRows) {
		return false, nil // not held by that node (in that attempt)
	} else if err != nil {
		return false, dbErr(err)
	}
	now := micros(o.Now)
	d, err := store.DecideCompletion(&o, &store.HeldRun{
		Attempt: cur.Attempt, MaxAttempts: cur.MaxAttempts, History: cur.Attempts,
		StartedAt: timePtr(cur.StartedAt), CancelRequested: cur.Cancel,
	})
	if err != nil {
		return false, err
	}
	var ok bool
	switch {
	case d.Status != connecthub.StatusQueued:
		return finishOne(ctx, stmt, counts, events, ends, o, d.Status, d.Error)
	case d.Retry:
		ok, err = execOne(ctx, stmt(completeRetrySQL), d.History, micros(d.AvailableAt), o.Message, d.Error, o.Traceback, now, o.ID)
		cur.Error = d.Error
	default:
		// A hand-back keeps the run's error.
		ok, err = execOne(ctx, stmt(completeHandBackSQL), now, o.ID)
	}
	if ok {
		events.left(o.ID, connecthub.StatusQueued, cur.Error, now)
	}
	return ok, err
}

// execOne runs a statement that changes at most one row and reports
// whether it did.
func execOne(ctx context.Context, st *sqlx.Stmt, args ...any) (bool, error) {
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return false, dbErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, dbErr(err)
	}
	return n == 1, nil
}
