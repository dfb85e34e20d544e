package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// alertTx is store.AlertTx over one write transaction.
type alertTx struct{ tx *sqlx.Tx }

var _ store.AlertTx = alertTx{}

func (a alertTx) Run(ctx context.Context, id string) (*connecthub.Run, error) {
	r, err := scanRun(a.tx.QueryRowxContext(ctx, `SELECT `+store.RunColumns(false)+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, dbErr(err)
}

func (a alertTx) Node(ctx context.Context, name string) (*connecthub.Node, error) {
	n, err := scanNode(a.tx.QueryRowxContext(ctx, `SELECT `+store.NodeColumns+` FROM nodes WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return n, dbErr(err)
}

// TrailingFailures walks the job's runs newest first through runs_job.
func (a alertTx) TrailingFailures(ctx context.Context, jobID, runID string, max int) (int, error) {
	var statuses []string
	err := a.tx.SelectContext(ctx, &statuses, `SELECT status FROM runs WHERE job_id = ? AND id <= ?
		AND status IN ('SUCCESS', 'FAILURE') ORDER BY id DESC LIMIT ?`, jobID, runID, max)
	if err != nil {
		return 0, dbErr(err)
	}
	n := 0
	for _, st := range statuses {
		if st != string(connecthub.StatusFailure) {
			break
		}
		n++
	}
	return n, nil
}

func (a alertTx) State(ctx context.Context, ruleID, scope string) (store.AlertState, error) {
	var (
		st   store.AlertState
		last sql.NullInt64
	)
	err := a.tx.QueryRowContext(ctx, `SELECT last_sent_at, subject FROM alert_state WHERE rule_id = ? AND scope = ?`,
		ruleID, scope).Scan(&last, &st.Subject)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	st.LastSentAt = timePtr(last)
	return st, dbErr(err)
}

func (a alertTx) PutState(ctx context.Context, ruleID, scope string, st store.AlertState) error {
	_, err := a.tx.ExecContext(ctx, `INSERT INTO alert_state (rule_id, scope, last_sent_at, subject) VALUES (?, ?, ?, ?)
		ON CONFLICT (rule_id, scope) DO UPDATE SET last_sent_at = excluded.last_sent_at, subject = excluded.subject`,
		ruleID, scope, nullMicros(st.LastSentAt), st.Subject)
	return dbErr(err)
}

func (a alertTx) Failing(ctx context.Context, jobID string) (bool, error) {
	var n int
	err := a.tx.GetContext(ctx, &n, `SELECT count(*) FROM alert_failing WHERE job_id = ?`, jobID)
	return n > 0, dbErr(err)
}

func (a alertTx) SetFailing(ctx context.Context, jobID string, failing bool) error {
	q := `DELETE FROM alert_failing WHERE job_id = ?`
	if failing {
		q = `INSERT INTO alert_failing (job_id) SELECT id FROM jobs WHERE id = ? ON CONFLICT DO NOTHING`
	}
	_, err := a.tx.ExecContext(ctx, q, jobID)
	return dbErr(err)
}

func (a alertTx) Enqueue(ctx context.Context, ns []*connecthub.Notification) error {
	return insertNotifications(ctx, a.tx, ns)
}

// MissedSlots finds slots the scheduler never fired (jobs_due) and cron
// runs still QUEUED past their slot.
func (a alertTx) MissedSlots(ctx context.Context, before time.Time, limit int) ([]store.MissedSlot, error) {
	rows, err := a.tx.QueryContext(ctx, `SELECT id, handler, queue, next_run_at, '' FROM jobs
		WHERE enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ?1
		UNION ALL
		SELECT job_id, handler, queue, scheduled_for, id FROM runs
		WHERE status = 'QUEUED' AND "trigger" = 'cron' AND scheduled_for <= ?1
		LIMIT ?2`, micros(before), limit)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []store.MissedSlot
	for rows.Next() {
		var (
			m    store.MissedSlot
			slot int64
		)
		if err := rows.Scan(&m.JobID, &m.Handler, &m.Queue, &slot, &m.RunID); err != nil {
			return nil, dbErr(err)
		}
		m.Slot = fromMicros(slot)
		out = append(out, m)
	}
	return out, dbErr(rows.Err())
}

func (a alertTx) LongRuns(ctx context.Context, startedBefore time.Time, limit int) ([]*connecthub.Run, error) {
	return queryAll(ctx, a.tx, scanRun,
		`SELECT `+store.RunColumns(false)+` FROM runs WHERE status = 'RUNNING' AND started_at <= ? ORDER BY started_at LIMIT ?`,
		micros(startedBefore), limit)
}

// RecentDurations reads the job's latest successful runs through runs_job.
func (a alertTx) RecentDurations(ctx context.Context, jobID string) ([]time.Duration, error) {
	var us []int64
	err := a.tx.SelectContext(ctx, &us, `SELECT finished_at - started_at FROM runs
		WHERE job_id = ? AND status = 'SUCCESS' AND started_at IS NOT NULL AND finished_at IS NOT NULL
		ORDER BY id DESC LIMIT ?`, jobID, store.MedianRuns)
	out := make([]time.Duration, len(us))
	for i, u := range us {
		out[i] = time.Duration(u) * time.Microsecond
	}
	return out, dbErr(err)
}

func enabledAlertRules(ctx context.Context, tx *sqlx.Tx) ([]*connecthub.AlertRule, error) {
	return queryAll(ctx, tx, scanRule, `SELECT `+ruleColumns+` FROM alert_rules WHERE enabled = 1 ORDER BY id`)
}

// AlertProcess implements store.AlertStore in one write transaction.
func (s *Store) AlertProcess(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := store.CheckAlertProcess(now, limit); err != nil {
		return 0, err
	}
	return store.TxValue(s.inTx(ctx), func(tx *sqlx.Tx) (int, error) {
		return store.ProcessAlerts(ctx, alertTx{tx}, now, limit, &s.ids, store.AlertProcessSteps{
			Events: func(limit int) ([]store.AlertEvent, error) {
				return queryAll(ctx, tx, func(sc scanner) (e store.AlertEvent, err error) {
					return e, sc.Scan(&e.Seq, &e.Kind, &e.Subject)
				}, `SELECT seq, kind, subject FROM alert_events ORDER BY seq LIMIT ?`, limit)
			},
			Rules: func() ([]*connecthub.AlertRule, error) { return enabledAlertRules(ctx, tx) },
			Consume: func(seq int64) error {
				_, err := tx.ExecContext(ctx, `DELETE FROM alert_events WHERE seq <= ?`, seq)
				return dbErr(err)
			},
		})
	})
}

// AlertCheck implements store.AlertStore in one write transaction.
func (s *Store) AlertCheck(ctx context.Context, now time.Time) (int, error) {
	if err := store.CheckTime("now", now); err != nil {
		return 0, err
	}
	// Without a missed or long_running rule there is nothing to check: a
	// reader says so, and the writer is left to the queue.
	var checked int
	if err := s.r.GetContext(ctx, &checked, `SELECT count(*) FROM alert_rules
		WHERE enabled = 1 AND event IN ('missed', 'long_running')`); err != nil {
		return 0, dbErr(err)
	}
	if checked == 0 {
		return 0, nil
	}
	return store.TxValue(s.inTx(ctx), func(tx *sqlx.Tx) (int, error) {
		return store.RunAlertCheck(ctx, alertTx{tx}, now, &s.ids, func() ([]*connecthub.AlertRule, error) {
			return enabledAlertRules(ctx, tx)
		})
	})
}

// AlertPending implements store.AlertStore on a reader.
func (s *Store) AlertPending(ctx context.Context) (bool, error) {
	var n int
	err := s.r.GetContext(ctx, &n, `SELECT count(*) FROM (SELECT 1 FROM alert_events LIMIT 1)`)
	return n > 0, dbErr(err)
}
