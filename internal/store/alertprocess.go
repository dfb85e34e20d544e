package store

import (
	"context"
	"time"

	"github.com/connecthub/connecthub"
)

// CheckAlertProcess checks AlertProcess's arguments, before its
// transaction.
func CheckAlertProcess(now time.Time, limit int) error {
	if err := CheckTime("now", now); err != nil {
		return err
	}
	if limit < 1 {
		return connecthub.FieldError("limit", "", "limit must be at least 1")
	}
	return nil
}

// AlertProcessSteps are the SQL primitives of AlertProcess that a driver
// supplies inside its write transaction (which holds the alert lock where
// replicas share the database).
type AlertProcessSteps struct {
	// Events reads up to limit recorded events, oldest first.
	Events func(limit int) ([]AlertEvent, error)
	// Rules reads the enabled rules.
	Rules func() ([]*connecthub.AlertRule, error)
	// Consume deletes the events up to and including seq.
	Consume func(seq int64) error
}

// ProcessAlerts is AlertProcess's rule, written once: the oldest events
// (at most limit) go through ProcessAlertEvents with the enabled rules and
// are consumed in the same transaction, so a crash leaves them for the
// next call. It returns how many events it consumed.
func ProcessAlerts(ctx context.Context, tx AlertTx, now time.Time, limit int, ids *IDGen, st AlertProcessSteps) (int, error) {
	events, err := st.Events(limit)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	rules, err := st.Rules()
	if err != nil {
		return 0, err
	}
	if _, err := ProcessAlertEvents(ctx, tx, rules, events, now, ids); err != nil {
		return 0, err
	}
	if err := st.Consume(events[len(events)-1].Seq); err != nil {
		return 0, err
	}
	return len(events), nil
}

// RunAlertCheck is AlertCheck's rule, written once: with no enabled rule
// there is nothing to check; otherwise CheckAlerts. It returns how many
// notifications it wrote.
func RunAlertCheck(ctx context.Context, tx AlertTx, now time.Time, ids *IDGen, rules func() ([]*connecthub.AlertRule, error)) (int, error) {
	rs, err := rules()
	if err != nil || len(rs) == 0 {
		return 0, err
	}
	return CheckAlerts(ctx, tx, rs, now, ids)
}
