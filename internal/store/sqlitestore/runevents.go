package sqlitestore

import (
	"context"
	"encoding/json"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
)

// runEvents gathers, within one write transaction, the alert events of the
// runs that the driver's statements took out of RUNNING, and records them
// in alert_events in one statement (flush), in the same transaction, so no
// event is lost to a crash and none is recorded for a change rolled back.
//
// Until migration 25 a row trigger on runs recorded them. SQLite calls a
// row trigger's program for every row an UPDATE writes, before its WHEN
// can say no: every completed run paid that call (9% of a completion's
// CPU, measured), although alert rules are rare. Every statement of this
// driver that takes a run out of RUNNING (the completion's, the rescue's;
// a claim, a cancel of a QUEUED run and a cancel request record nothing)
// reports it here instead, with the status and error it wrote, in the
// order it wrote them; TestAlertEventPaths checks each path.
//
// The events are the trigger's: worker_lost when a RUNNING run is
// re-queued or ends FAILURE with error "worker lost", then run_end when it
// ends SUCCESS or FAILURE, each only while an enabled rule wants it
// (worker_lost; failure or recovery), created at the change's time.
type runEvents struct {
	rows []runEvent
}

// runEvent is one alert_events row: its kind, the run's id, and the time
// of the change in unix microseconds.
type runEvent struct {
	kind, subject string
	at            int64
}

// left records that the RUNNING run id was changed to status with error
// errText at atUS (unix microseconds).
func (e *runEvents) left(id string, status connecthub.RunStatus, errText string, atUS int64) {
	if errText == connecthub.ReasonWorkerLost && (status == connecthub.StatusQueued || status == connecthub.StatusFailure) {
		e.rows = append(e.rows, runEvent{"worker_lost", id, atUS})
	}
	if status == connecthub.StatusSuccess || status == connecthub.StatusFailure {
		e.rows = append(e.rows, runEvent{"run_end", id, atUS})
	}
}

// The statements of runEvents.flush. Open prepares them into the writer's
// statement cache: a flush runs inside a write transaction, which holds
// the only writer connection.
const (
	// alertWantsSQL says which of the two kinds an enabled rule wants.
	alertWantsSQL = `SELECT COALESCE(MAX(event = 'worker_lost'), 0), COALESCE(MAX(event IN ('failure', 'recovery')), 0)
		FROM alert_rules WHERE enabled = 1`
	// alertEventsInsertSQL inserts the events of a JSON array of [kind,
	// subject, created_at] in the array's order (seq follows it).
	alertEventsInsertSQL = `INSERT INTO alert_events (kind, subject, created_at)
		SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2 FROM json_each(?1) AS e ORDER BY e.key`
)

// flush records the gathered events that an enabled rule wants, in tx,
// and resets e. With no enabled rule (the usual case) it is one read of
// alert_rules.
func (e *runEvents) flush(ctx context.Context, tx *sqlx.Tx, cache *stmtCache) error {
	if len(e.rows) == 0 {
		return nil
	}
	rows := e.rows
	e.rows = nil
	var lost, ended bool
	var want *sqlx.Row
	if st, ok := cache.cached(alertWantsSQL); ok {
		want = tx.StmtxContext(ctx, st).QueryRowxContext(ctx)
	} else {
		want = tx.QueryRowxContext(ctx, alertWantsSQL)
	}
	if err := want.Scan(&lost, &ended); err != nil {
		return dbErr(err)
	}
	if !lost && !ended {
		return nil
	}
	var out [][3]any
	for _, r := range rows {
		if (r.kind == "worker_lost" && lost) || (r.kind == "run_end" && ended) {
			out = append(out, [3]any{r.kind, r.subject, r.at})
		}
	}
	if len(out) == 0 {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if st, ok := cache.cached(alertEventsInsertSQL); ok {
		_, err = tx.StmtxContext(ctx, st).ExecContext(ctx, string(b))
	} else {
		_, err = tx.ExecContext(ctx, alertEventsInsertSQL, string(b))
	}
	return dbErr(err)
}
