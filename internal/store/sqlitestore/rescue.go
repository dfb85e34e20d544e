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
	)
	err := s.write(ctx, func(tx *sqlx.Tx) error {
		var found []rescueCandidate
		if err := tx.SelectContext(ctx, &found, `SELECT `+rescueCandidateColumns+`
			FROM runs WHERE status = 'RUNNING' AND lease_expires_at < ?
			ORDER BY lease_expires_at, id LIMIT ?`, micros(now), limit); err != nil {
			return dbErr(err)
		}
		var err error
		rescued, requeued, err = rescueRuns(ctx, tx, &s.stmts, found, now)
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
// CANCELED. It returns the runs after the change and whether any was
// re-queued (the caller publishes TopicRuns after commit).
func rescueRuns(ctx context.Context, tx *sqlx.Tx, cache *stmtCache, found []rescueCandidate, now time.Time) ([]*connecthub.Run, bool, error) {
	var (
		rescued  []*connecthub.Run
		requeued bool
	)
	nowUS := micros(now)
	var counts finishCounts // the runs that end rather than re-queue
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
			return nil, false, err
		}
		if d.Requeue {
			q = `UPDATE runs SET status = 'QUEUED', attempt = attempt + 1, attempts = ?1, available_at = ?2,
				node = '', lease_expires_at = NULL, heartbeat_at = NULL, started_at = NULL,
				error = ?3, traceback = '', result = NULL, updated_at = ?2
				WHERE id = ?4 RETURNING ` + runColumns(false)
			args = []any{d.History, nowUS, d.Error, e.ID}
			requeued = true
		} else {
			q = `UPDATE runs SET status = ?1, finished_at = ?2, error = ?3, lease_expires_at = NULL,
				updated_at = ?2 WHERE id = ?4 RETURNING ` + runColumns(false)
			args = []any{string(d.Status), nowUS, d.Error, e.ID}
		}
		r, err := scanRun(tx.QueryRowxContext(ctx, q, args...))
		if err != nil {
			return nil, false, dbErr(err)
		}
		if !d.Requeue {
			counts.addRun(r)
		}
		rescued = append(rescued, r)
	}
	if err := counts.flush(ctx, tx, cache); err != nil {
		return nil, false, err
	}
	return rescued, requeued, nil
}
