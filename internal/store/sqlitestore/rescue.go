package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// RunRescue implements store.RunStore. A rescued run whose cancel was
// requested ends CANCELED rather than being re-queued: its worker is gone,
// and running it again is the opposite of what was asked.
func (s *Store) RunRescue(ctx context.Context, now time.Time, limit int) ([]*connecthub.Run, error) {
	if err := store.CheckRescue(now, limit); err != nil {
		return nil, err
	}
	var (
		rescued  []*connecthub.Run
		requeued bool
		chained  store.ChainStarted
	)
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var found []rescueCandidate
		if err := tx.SelectContext(ctx, &found, `SELECT `+rescueCandidateColumns+`
			FROM runs WHERE status = 'RUNNING' AND lease_expires_at < ?
			ORDER BY lease_expires_at, id LIMIT ?`, micros(now), limit); err != nil {
			return dbErr(err)
		}
		var err error
		rescued, requeued, chained, err = s.rescueRuns(ctx, tx, found, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if requeued {
		s.Publish(store.TopicRuns)
	}
	s.publishChains(chained)
	return rescued, nil
}

// rescueCandidate is what rescueRuns needs to know of a RUNNING run.
type rescueCandidate struct {
	ID          string        `db:"id"`
	Attempt     int           `db:"attempt"`
	MaxAttempts int           `db:"max_attempts"`
	Attempts    []byte        `db:"attempts"`
	Node        string        `db:"node"`
	StartedAt   sql.NullInt64 `db:"started_at"`
	Cancel      bool          `db:"cancel_requested"`
}

// rescueCandidateColumns selects a rescueCandidate.
const rescueCandidateColumns = `id, attempt, max_attempts, attempts, node, started_at, cancel_requested`

// rescueRuns rescues RUNNING runs whose worker is gone (RunRescue: the
// lease expired; NodeMarkDead: the node went silent) in tx, so both follow
// one set of rules: a run with attempts left is re-queued with attempt+1,
// available at now, with a "worker lost" entry in its history; a run
// without ends FAILURE "worker lost"; a run whose cancel was requested ends
// CANCELED. A run that ends FAILURE starts its job's on_failure chain. It
// returns the runs after the change, whether any was re-queued (the caller
// publishes TopicRuns after commit) and what the chains started (the
// caller publishes it with publishChains).
func (s *Store) rescueRuns(ctx context.Context, tx *sqlx.Tx, found []rescueCandidate, now time.Time) ([]*connecthub.Run, bool, store.ChainStarted, error) {
	var (
		rescued  []*connecthub.Run
		requeued bool
	)
	nowUS := micros(now)
	var (
		counts finishCounts // the runs that end rather than re-queue
		events runEvents
		ends   []store.ChainEnd
	)
	for _, e := range found {
		var (
			q    string
			args []any
		)
		d, err := store.DecideRescue(&store.RescueCandidate{
			ID: e.ID, Node: e.Node, Attempt: e.Attempt, MaxAttempts: e.MaxAttempts,
			History: e.Attempts, StartedAt: timePtr(e.StartedAt), CancelRequested: e.Cancel,
		}, now)
		if err != nil {
			return nil, false, store.ChainStarted{}, err
		}
		if d.Requeue {
			q = `UPDATE runs SET status = 'QUEUED', attempt = attempt + 1, attempts = ?1, available_at = ?2,
				node = '', lease_expires_at = NULL, heartbeat_at = NULL, started_at = NULL,
				error = ?3, traceback = '', result = NULL, updated_at = ?2
				WHERE id = ?4 RETURNING ` + store.RunColumns(false)
			args = []any{d.History, nowUS, d.Error, e.ID}
			requeued = true
		} else {
			q = `UPDATE runs SET status = ?1, finished_at = ?2, error = ?3, lease_expires_at = NULL,
				updated_at = ?2 WHERE id = ?4 RETURNING ` + store.RunColumns(false)
			args = []any{string(d.Status), nowUS, d.Error, e.ID}
		}
		r, err := scanRun(tx.QueryRowxContext(ctx, q, args...))
		if err != nil {
			return nil, false, store.ChainStarted{}, dbErr(err)
		}
		events.left(r.ID, r.Status, r.Error, nowUS)
		if !d.Requeue {
			counts.addRun(r)
			ends = append(ends, store.ChainEnd{RunID: r.ID, JobID: r.JobID, Status: r.Status, Result: r.Result, Error: r.Error, At: now})
		}
		rescued = append(rescued, r)
	}
	chained, err := s.startChains(ctx, tx, nil, &counts, ends)
	if err != nil {
		return nil, false, chained, err
	}
	if err := events.flush(ctx, tx, &s.stmts); err != nil {
		return nil, false, chained, err
	}
	if err := counts.flush(ctx, tx, &s.stmts); err != nil {
		return nil, false, chained, err
	}
	return rescued, requeued, chained, nil
}
