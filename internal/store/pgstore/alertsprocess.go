package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// alertLockSQL serializes the alert processor and checker of every
// replica on one database schema: the rules' state (quiet periods, the
// failing mark) is then read and written by one transaction at a time,
// as on SQLite's single writer.
const alertLockSQL = `SELECT pg_advisory_xact_lock(hashtext('connecthub.alerts.' || current_schema()))`

// alertTx is store.AlertTx over one transaction.
type alertTx struct{ tx pgx.Tx }

var _ store.AlertTx = alertTx{}

func (a alertTx) Run(ctx context.Context, id string) (*connecthub.Run, error) {
	r, err := scanRun(a.tx.QueryRow(ctx, `SELECT `+store.RunColumns(false)+` FROM runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return r, dbErr(err)
}

func (a alertTx) Node(ctx context.Context, name string) (*connecthub.Node, error) {
	n, err := scanNode(a.tx.QueryRow(ctx, `SELECT `+store.NodeColumns+` FROM nodes WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return n, dbErr(err)
}

// TrailingFailures counts the job's FAILURE runs up to runID that came
// after its newest SUCCESS up to runID, at most max: the streak of
// failures among its ends that count (CANCELED and SKIPPED do not break
// it). Both walks are newest first through runs_job_finished.
func (a alertTx) TrailingFailures(ctx context.Context, jobID, runID string, max int) (int, error) {
	var n int
	err := a.tx.QueryRow(ctx, `SELECT count(*) FROM (
			SELECT 1 FROM runs WHERE job_id = $1 AND status = 'FAILURE' AND id <= $2
				AND id > COALESCE((SELECT id FROM runs WHERE job_id = $1 AND status = 'SUCCESS' AND id <= $2
					ORDER BY id DESC LIMIT 1), '')
			ORDER BY id DESC LIMIT $3) streak`, jobID, runID, max).Scan(&n)
	return n, dbErr(err)
}

func (a alertTx) State(ctx context.Context, ruleID, scope string) (store.AlertState, error) {
	var st store.AlertState
	err := a.tx.QueryRow(ctx, `SELECT last_sent_at, subject FROM alert_state WHERE rule_id = $1 AND scope = $2`,
		ruleID, scope).Scan(&st.LastSentAt, &st.Subject)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.AlertState{}, nil
	}
	st.LastSentAt = utcPtr(st.LastSentAt)
	return st, dbErr(err)
}

func (a alertTx) PutState(ctx context.Context, ruleID, scope string, st store.AlertState) error {
	_, err := a.tx.Exec(ctx, `INSERT INTO alert_state (rule_id, scope, last_sent_at, subject) VALUES ($1, $2, $3, $4)
		ON CONFLICT (rule_id, scope) DO UPDATE SET last_sent_at = excluded.last_sent_at, subject = excluded.subject`,
		ruleID, cleanText(scope), utcPtr(st.LastSentAt), cleanText(st.Subject))
	return dbErr(err)
}

func (a alertTx) Failing(ctx context.Context, jobID string) (bool, error) {
	var ok bool
	err := a.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM alert_failing WHERE job_id = $1)`, jobID).Scan(&ok)
	return ok, dbErr(err)
}

func (a alertTx) SetFailing(ctx context.Context, jobID string, failing bool) error {
	q := `DELETE FROM alert_failing WHERE job_id = $1`
	if failing {
		q = `INSERT INTO alert_failing (job_id) SELECT id FROM jobs WHERE id = $1 ON CONFLICT DO NOTHING`
	}
	_, err := a.tx.Exec(ctx, q, jobID)
	return dbErr(err)
}

func (a alertTx) Enqueue(ctx context.Context, ns []*connecthub.Notification) error {
	return insertNotifications(ctx, a.tx, ns)
}

// MissedSlots finds slots the scheduler never fired (jobs_due) and cron
// runs still QUEUED past their slot.
func (a alertTx) MissedSlots(ctx context.Context, before time.Time, limit int) ([]store.MissedSlot, error) {
	rows, err := a.tx.Query(ctx, `(SELECT id, handler, queue, next_run_at, '' FROM jobs
		WHERE enabled AND next_run_at IS NOT NULL AND next_run_at <= $1)
		UNION ALL
		(SELECT job_id, handler, queue, scheduled_for, id FROM runs
		WHERE status = 'QUEUED' AND "trigger" = 'cron' AND scheduled_for <= $1)
		LIMIT $2`, utc(before), limit)
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.MissedSlot, error) {
		var m store.MissedSlot
		err := row.Scan(&m.JobID, &m.Handler, &m.Queue, &m.Slot, &m.RunID)
		m.Slot = m.Slot.UTC()
		return m, err
	})
	return out, dbErr(err)
}

func (a alertTx) LongRuns(ctx context.Context, startedBefore time.Time, limit int) ([]*connecthub.Run, error) {
	return queryList(ctx, a.tx, scanRun, `SELECT `+store.RunColumns(false)+` FROM runs
		WHERE status = 'RUNNING' AND started_at <= $1 ORDER BY started_at LIMIT $2`, utc(startedBefore), limit)
}

// RecentDurations reads the job's latest successful runs through
// runs_job_finished.
func (a alertTx) RecentDurations(ctx context.Context, jobID string) ([]time.Duration, error) {
	rows, err := a.tx.Query(ctx, `SELECT (extract(epoch FROM finished_at - started_at) * 1000000)::bigint FROM runs
		WHERE job_id = $1 AND status = 'SUCCESS' AND started_at IS NOT NULL AND finished_at IS NOT NULL
		ORDER BY id DESC LIMIT $2`, jobID, store.MedianRuns)
	if err != nil {
		return nil, dbErr(err)
	}
	us, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	out := make([]time.Duration, len(us))
	for i, u := range us {
		out[i] = time.Duration(u) * time.Microsecond
	}
	return out, dbErr(err)
}

func enabledAlertRules(ctx context.Context, tx pgx.Tx) ([]*connecthub.AlertRule, error) {
	return queryList(ctx, tx, scanRule, `SELECT `+ruleColumns+` FROM alert_rules WHERE enabled ORDER BY id`)
}

// AlertProcess implements store.AlertStore in one transaction, under the
// alert lock.
func (s *Store) AlertProcess(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := store.CheckAlertProcess(now, limit); err != nil {
		return 0, err
	}
	return store.TxValue(s.inTx(ctx), func(tx pgx.Tx) (int, error) {
		if _, err := tx.Exec(ctx, alertLockSQL); err != nil {
			return 0, dbErr(err)
		}
		return store.ProcessAlerts(ctx, alertTx{tx}, now, limit, &s.ids, store.AlertProcessSteps{
			Events: func(limit int) ([]store.AlertEvent, error) {
				rows, err := tx.Query(ctx, `SELECT seq, kind, subject FROM alert_events ORDER BY seq LIMIT $1`, limit)
				if err != nil {
					return nil, dbErr(err)
				}
				events, err := pgx.CollectRows(rows, pgx.RowToStructByPos[store.AlertEvent])
				return events, dbErr(err)
			},
			Rules: func() ([]*connecthub.AlertRule, error) { return enabledAlertRules(ctx, tx) },
			Consume: func(seq int64) error {
				_, err := tx.Exec(ctx, `DELETE FROM alert_events WHERE seq <= $1`, seq)
				return dbErr(err)
			},
		})
	})
}

// AlertCheck implements store.AlertStore in one transaction, under the
// alert lock.
func (s *Store) AlertCheck(ctx context.Context, now time.Time) (int, error) {
	if err := store.CheckTime("now", now); err != nil {
		return 0, err
	}
	return store.TxValue(s.inTx(ctx), func(tx pgx.Tx) (int, error) {
		if _, err := tx.Exec(ctx, alertLockSQL); err != nil {
			return 0, dbErr(err)
		}
		return store.RunAlertCheck(ctx, alertTx{tx}, now, &s.ids, func() ([]*connecthub.AlertRule, error) {
			return enabledAlertRules(ctx, tx)
		})
	})
}

// AlertPending implements store.AlertStore.
func (s *Store) AlertPending(ctx context.Context) (bool, error) {
	db, err := s.db()
	if err != nil {
		return false, err
	}
	var ok bool
	err = db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM alert_events)`).Scan(&ok)
	return ok, dbErr(err)
}
