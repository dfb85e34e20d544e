package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"math/bits"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// chunkSizes splits n rows into chunks whose sizes are powers of two up to
// maxChunk (itself a power of two), so that a handful of statement texts
// (1, 2, 4, ... rows) serve every batch size from the statement cache.
func chunkSizes(n, maxChunk int) []int {
	var sizes []int
	for n > 0 {
		size := min(maxChunk, 1<<(bits.Len(uint(n))-1))
		sizes = append(sizes, size)
		n -= size
	}
	return sizes
}

// maxInsertChunk keeps a statement under SQLite's 32766 bound parameters
// with room to spare (27 columns a row).
const maxInsertChunk = 256

// insertRunsSQL returns the multi-row INSERT of n rows; the texts of the
// chunk sizes are built once.
func insertRunsSQL(n int) string {
	if sql, ok := insertRunsTexts[n]; ok {
		return sql
	}
	return buildInsertRunsSQL(n)
}

var insertRunsTexts = func() map[int]string {
	m := make(map[int]string)
	for n := 1; n <= maxInsertChunk; n *= 2 {
		m[n] = buildInsertRunsSQL(n)
	}
	return m
}()

func buildInsertRunsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO runs (` + runInsertColumns + `) VALUES `)
	row := "(" + placeholders(runInsertColumnCount) + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// insertRuns inserts rows (already checked by newRun, with ids) in
// multi-row statements. Statements must have been prepared by the caller,
// one per chunk size, in stmts.
func insertRuns(ctx context.Context, tx *sqlx.Tx, stmts map[int]*sqlx.Stmt, cache *stmtCache, rows []*connecthub.Run) error {
	var counts finishCounts // the finished runs among them (an import's)
	for _, r := range rows {
		counts.addRun(r)
	}
	if err := counts.flush(ctx, tx, cache); err != nil {
		return err
	}
	args := make([]any, 0, runInsertColumnCount*min(len(rows), maxInsertChunk))
	for _, size := range chunkSizes(len(rows), maxInsertChunk) {
		args = args[:0]
		for _, r := range rows[:size] {
			var err error
			if args, err = runInsertArgs(args, r); err != nil {
				return err
			}
		}
		if _, err := tx.StmtxContext(ctx, stmts[size]).ExecContext(ctx, args...); err != nil {
			return err
		}
		rows = rows[size:]
	}
	return nil
}

// prepareInserts prepares the insert statements a batch of n rows needs.
func (s *Store) prepareInserts(ctx context.Context, n int) (map[int]*sqlx.Stmt, func(), error) {
	stmts := make(map[int]*sqlx.Stmt)
	var releases []func()
	release := func() {
		for _, r := range releases {
			r()
		}
	}
	for _, size := range chunkSizes(n, maxInsertChunk) {
		if _, ok := stmts[size]; ok {
			continue
		}
		st, rel, err := s.stmts.prepare(ctx, insertRunsSQL(size))
		if err != nil {
			release()
			return nil, nil, err
		}
		stmts[size] = st
		releases = append(releases, rel)
	}
	return stmts, release, nil
}

// RunInsert implements store.RunStore. Runs are inserted in multi-row
// statements in one transaction: all or none.
func (s *Store) RunInsert(ctx context.Context, runs []*connecthub.Run) error {
	queued, err := store.InsertRuns(runs, &s.ids, func(rows []*connecthub.Run, _ bool) error {
		stmts, release, err := s.prepareInserts(ctx, len(rows))
		if err != nil {
			return err
		}
		defer release()
		return dbErr(s.write(ctx, func(tx *sqlx.Tx) error {
			return insertRuns(ctx, tx, stmts, &s.stmts, rows)
		}))
	})
	if queued {
		s.Publish(store.TopicRuns)
	}
	return err
}

// RunGet implements store.RunStore.
func (s *Store) RunGet(ctx context.Context, id string) (*connecthub.Run, error) {
	r, err := scanRun(s.r.QueryRowxContext(ctx, `SELECT `+store.RunColumns(false)+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connecthub.NotFound("run", id)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	return r, nil
}

// RunSecret implements store.RunStore.
func (s *Store) RunSecret(ctx context.Context, id string) (string, error) {
	var secret string
	err := s.r.GetContext(ctx, &secret, `SELECT snapshot_secret FROM runs WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", connecthub.NotFound("run", id)
	}
	if err != nil {
		return "", dbErr(err)
	}
	return secret, nil
}

// RunList implements store.RunStore. Newest first is id order: ids are
// ULIDs made from the creation time.
func (s *Store) RunList(ctx context.Context, p store.RunListParams) ([]*connecthub.Run, string, error) {
	return store.ListRuns(dialect, p, func(tail string, args []any) ([]*connecthub.Run, error) {
		rows, err := s.r.QueryxContext(ctx, `SELECT `+store.RunColumns(false)+` FROM runs`+tail, args...)
		if err != nil {
			return nil, dbErr(err)
		}
		defer rows.Close()
		runs := make([]*connecthub.Run, 0, 64)
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				return nil, dbErr(err)
			}
			runs = append(runs, r)
		}
		return runs, dbErr(rows.Err())
	})
}

// RunLogAppend implements store.RunStore. The chunk is stored as a new row
// at the log's current end; nothing already written is rewritten.
func (s *Store) RunLogAppend(ctx context.Context, id string, chunk string) error {
	if chunk == "" {
		return nil
	}
	return s.write(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO run_logs (run_id, off, data)
			SELECT id, log_size, ? FROM runs WHERE id = ? AND status = 'RUNNING'`, chunk, id)
		if err != nil {
			return dbErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbErr(err)
		} else if n == 0 {
			return nil // not RUNNING (or gone): ignored, as the contract says
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET log_size = log_size + ? WHERE id = ?`, len(chunk), id)
		return dbErr(err)
	})
}

// RunLogRead implements store.RunStore. The status and the data come from
// one read transaction, so a follower that sees a final status has seen
// the whole log.
func (s *Store) RunLogRead(ctx context.Context, id string, offset int64) (store.RunLogChunk, error) {
	if err := store.CheckLogOffset(offset); err != nil {
		return store.RunLogChunk{}, err
	}
	var chunk *store.LogChunkBuilder
	err := s.read(ctx, func(tx *sqlx.Tx) error {
		var st struct {
			Status  string `db:"status"`
			LogSize int64  `db:"log_size"`
		}
		err := tx.GetContext(ctx, &st, `SELECT status, log_size FROM runs WHERE id = ?`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return connecthub.NotFound("run", id)
		}
		if err != nil {
			return dbErr(err)
		}
		chunk = store.NewLogChunk(connecthub.RunStatus(st.Status), st.LogSize, offset)
		if !chunk.Wants() {
			return nil
		}
		// From the chunk that contains offset to the end.
		rows, err := tx.QueryContext(ctx, `SELECT off, data FROM run_logs
			WHERE run_id = ?1 AND off >= COALESCE((SELECT MAX(off) FROM run_logs WHERE run_id = ?1 AND off <= ?2), 0)
			ORDER BY off`, id, offset)
		if err != nil {
			return dbErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				off  int64
				data []byte
			)
			if err := rows.Scan(&off, &data); err != nil {
				return dbErr(err)
			}
			chunk.Add(off, data)
		}
		return dbErr(rows.Err())
	})
	if err != nil {
		return store.RunLogChunk{}, err
	}
	return chunk.Chunk(), nil
}

// RunCancel implements store.RunStore.
func (s *Store) RunCancel(ctx context.Context, id string, now time.Time) (*connecthub.Run, error) {
	// write runs the cancel's UPDATE and counts the run if it ended.
	write := func(tx *sqlx.Tx, q string, args ...any) (*connecthub.Run, error) {
		run, err := scanRun(tx.QueryRowxContext(ctx, q+` RETURNING `+store.RunColumns(false), args...))
		if err != nil {
			return nil, dbErr(err)
		}
		var counts finishCounts // a QUEUED run ends CANCELED here
		counts.addRun(run)
		return run, counts.flush(ctx, tx, &s.stmts)
	}
	return store.CancelRun(s.inTx(ctx), id, now, store.CancelSteps[*sqlx.Tx]{
		Status: func(tx *sqlx.Tx) (connecthub.RunStatus, error) {
			var status string
			err := tx.GetContext(ctx, &status, `SELECT status FROM runs WHERE id = ?`, id)
			return connecthub.RunStatus(status), notFound(err, "run", id)
		},
		EndQueued: func(tx *sqlx.Tx) (*connecthub.Run, error) {
			return write(tx, `UPDATE runs SET status = 'CANCELED', finished_at = ?1, error = ?2, updated_at = ?1 WHERE id = ?3`,
				micros(now), connecthub.ReasonCanceled, id)
		},
		RequestCancel: func(tx *sqlx.Tx) (*connecthub.Run, error) {
			return write(tx, `UPDATE runs SET cancel_requested = 1, updated_at = ?1 WHERE id = ?2`, micros(now), id)
		},
		Publish: s.Publish,
	})
}

// finishedCondition is the WHERE of the partial indexes runs_finished and
// runs_job_finished, word for word: SQLite uses a partial index only for a
// query that states its condition. A run is finished when it is neither
// QUEUED nor RUNNING; the two-value form spares every write to runs the
// ephemeral table that SQLite builds per row for a longer IN list (see
// migration 21).
const finishedCondition = `status NOT IN ('QUEUED', 'RUNNING')`

// statusCondition is RunList's status filter. For one final status it
// repeats the partial index's condition, which lets SQLite see that
// runs_finished (or, for one job, runs_job_finished) applies: it walks
// that status newest first instead of scanning every run (or every run of
// the job).
func statusCondition(statuses []connecthub.RunStatus) (string, []any) {
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = string(st)
	}
	cond := "status IN (" + placeholders(len(statuses)) + ")"
	if len(statuses) == 1 && statuses[0].Terminal() {
		cond += " AND " + finishedCondition
	}
	return cond, args
}

// RunDeleteFinished implements store.RunStore.
func (s *Store) RunDeleteFinished(ctx context.Context, jobID string) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var exists bool
		if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ?)`, jobID); err != nil {
			return dbErr(err)
		}
		if !exists {
			return connecthub.NotFound("job", jobID)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE job_id = ? AND `+finishedCondition, jobID)
		if err != nil {
			return dbErr(err)
		}
		n, err = res.RowsAffected()
		return dbErr(err)
	})
	return n, err
}

// activeCountSQL counts a job's active runs through their partial index
// (see fireActiveSQL for why it is named).
const activeCountSQL = `SELECT COUNT(*) FROM runs INDEXED BY runs_active
	WHERE job_id = ? AND status IN ('QUEUED', 'RUNNING')`

// RunActiveCount implements store.RunStore. A job that does not exist has
// no active runs.
func (s *Store) RunActiveCount(ctx context.Context, jobID string) (int, error) {
	var n int
	err := s.r.GetContext(ctx, &n, activeCountSQL, jobID)
	return n, dbErr(err)
}
