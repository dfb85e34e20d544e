package store

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/connecthub/connecthub"
)

// The alert rules that do not depend on the database: which recorded
// event or checked condition makes which notifications, the quiet period,
// and the recovery state. A driver opens one transaction, hands its reads
// and writes to these functions through an AlertTx, and commits.

// Kinds of rows the triggers record in alert_events.
const (
	AlertEventRunEnd     = "run_end"
	AlertEventWorkerLost = "worker_lost"
	AlertEventNodeDown   = "node_down"
)

// AlertEvent is one row a trigger recorded: Subject is the run id, or the
// node name for node_down.
type AlertEvent struct {
	Seq     int64
	Kind    string
	Subject string
}

// AlertState is what a rule remembers per job (or node): when it last
// sent and about what (a run id, a slot), so the quiet period holds and
// the same run or slot is never announced twice.
type AlertState struct {
	LastSentAt *time.Time
	Subject    string
}

// MissedSlot is a cron slot that has no started run: either the scheduler
// never fired it (the job's next_run_at lies in the past: no scheduler is
// alive) or its run still waits QUEUED.
type MissedSlot struct {
	JobID, Handler, Queue string
	Slot                  time.Time
	RunID                 string
}

// MedianRuns is how many of a job's latest successful runs its median
// duration is taken over.
const MedianRuns = 20

// AlertTx is a driver's transaction as the alert rules use it.
type AlertTx interface {
	// Run returns a run without its log; nil when it no longer exists.
	Run(ctx context.Context, id string) (*connecthub.Run, error)
	// Node returns a node; nil when it no longer exists.
	Node(ctx context.Context, name string) (*connecthub.Node, error)
	// TrailingFailures counts, among the job's SUCCESS and FAILURE runs
	// with an id up to runID, newest first, the FAILURE runs before the
	// first SUCCESS, at most max.
	TrailingFailures(ctx context.Context, jobID, runID string, max int) (int, error)
	// State reads a rule's state for a scope (zero when none).
	State(ctx context.Context, ruleID, scope string) (AlertState, error)
	// PutState writes it.
	PutState(ctx context.Context, ruleID, scope string, st AlertState) error
	// Failing reports whether a failure was announced for the job since
	// its last success; SetFailing records it.
	Failing(ctx context.Context, jobID string) (bool, error)
	SetFailing(ctx context.Context, jobID string, failing bool) error
	// Enqueue inserts notifications (ids already set).
	Enqueue(ctx context.Context, ns []*connecthub.Notification) error
	// MissedSlots lists slots due at or before `before` without a started
	// run, at most limit.
	MissedSlots(ctx context.Context, before time.Time, limit int) ([]MissedSlot, error)
	// LongRuns lists RUNNING runs started at or before `before`, oldest
	// first, at most limit.
	LongRuns(ctx context.Context, startedBefore time.Time, limit int) ([]*connecthub.Run, error)
	// RecentDurations returns the durations of the job's latest
	// MedianRuns successful runs.
	RecentDurations(ctx context.Context, jobID string) ([]time.Duration, error)
}

// AlertEventKinds says which kinds of recorded events the rules of an
// event need, for the triggers' "some rule could care" test.
var AlertEventKinds = map[string]string{
	connecthub.EventFailure:    AlertEventRunEnd,
	connecthub.EventRecovery:   AlertEventRunEnd,
	connecthub.EventWorkerLost: AlertEventWorkerLost,
	connecthub.EventNodeDown:   AlertEventNodeDown,
}

// alerter applies the rules inside one transaction.
type alerter struct {
	tx    AlertTx
	rules []*connecthub.AlertRule
	now   time.Time
	ids   *IDGen
	out   []*connecthub.Notification
}

// ProcessAlertEvents applies the enabled rules to recorded events, in
// order, and enqueues the notifications they decide. Events whose run or
// node is gone are consumed without a notification.
func ProcessAlertEvents(ctx context.Context, tx AlertTx, rules []*connecthub.AlertRule, events []AlertEvent, now time.Time, ids *IDGen) (int, error) {
	a := &alerter{tx: tx, rules: enabledRules(rules), now: now, ids: ids}
	for _, ev := range events {
		var err error
		switch ev.Kind {
		case AlertEventRunEnd:
			err = a.runEnd(ctx, ev.Subject)
		case AlertEventWorkerLost:
			err = a.workerLost(ctx, ev.Subject)
		case AlertEventNodeDown:
			err = a.nodeDown(ctx, ev.Subject)
		}
		if err != nil {
			return 0, err
		}
	}
	return len(a.out), a.flush(ctx)
}

// CheckAlerts looks for missed slots and long runs and enqueues the
// notifications the rules decide.
func CheckAlerts(ctx context.Context, tx AlertTx, rules []*connecthub.AlertRule, now time.Time, ids *IDGen) (int, error) {
	a := &alerter{tx: tx, rules: enabledRules(rules), now: now, ids: ids}
	if err := a.missed(ctx); err != nil {
		return 0, err
	}
	if err := a.longRunning(ctx); err != nil {
		return 0, err
	}
	return len(a.out), a.flush(ctx)
}

func enabledRules(rules []*connecthub.AlertRule) []*connecthub.AlertRule {
	var out []*connecthub.AlertRule
	for _, r := range rules {
		if r.Enabled {
			out = append(out, r)
		}
	}
	return out
}

func (a *alerter) flush(ctx context.Context) error {
	if len(a.out) == 0 {
		return nil
	}
	return a.tx.Enqueue(ctx, a.out)
}

// DecideQuiet reports whether a rule in state st may announce subject at
// now: not the subject it announced last, and not within its quiet period.
func DecideQuiet(st AlertState, subject string, quiet time.Duration, now time.Time) bool {
	if subject != "" && st.Subject == subject {
		return false
	}
	return st.LastSentAt == nil || !now.Before(st.LastSentAt.Add(quiet))
}

// fire announces alert under rule r for scope if the quiet period allows,
// and reports whether it did.
func (a *alerter) fire(ctx context.Context, r *connecthub.AlertRule, scope, subject string, alert connecthub.Alert) (bool, error) {
	st, err := a.tx.State(ctx, r.ID, scope)
	if err != nil {
		return false, err
	}
	if !DecideQuiet(st, subject, r.QuietPeriod.D(), a.now) {
		return false, nil
	}
	now := a.now
	if err := a.tx.PutState(ctx, r.ID, scope, AlertState{LastSentAt: &now, Subject: subject}); err != nil {
		return false, err
	}
	alert.Event, alert.RuleName, alert.Threshold, alert.At = r.Event, r.Name, r.Threshold, a.now
	for _, ch := range r.Channels {
		id, err := a.ids.Next(a.now)
		if err != nil {
			return false, err
		}
		a.out = append(a.out, &connecthub.Notification{
			ID: id, RuleID: r.ID, Channel: ch, Event: r.Event, JobID: alert.JobID, RunID: alert.RunID,
			Alert: alert, Status: connecthub.DeliveryPending, History: []connecthub.DeliveryAttempt{},
			NextAttemptAt: a.now, CreatedAt: a.now,
		})
	}
	return true, nil
}

func (a *alerter) matching(event, jobID, handler, queue string) []*connecthub.AlertRule {
	var out []*connecthub.AlertRule
	for _, r := range a.rules {
		if r.Event == event && r.Match.Matches(jobID, handler, queue) {
			out = append(out, r)
		}
	}
	return out
}

// RunAlert is the alert a run's facts make.
func RunAlert(r *connecthub.Run) connecthub.Alert {
	al := connecthub.Alert{
		JobID: r.JobID, RunID: r.ID, Status: string(r.Status), Trigger: string(r.Trigger), Node: r.Node,
		Handler: r.Snapshot.Handler, Queue: r.Queue, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Error: connecthub.ErrorSummary(r.Error),
	}
	if !r.ScheduledFor.IsZero() {
		s := r.ScheduledFor
		al.ScheduledFor = &s
	}
	if r.StartedAt != nil && r.FinishedAt != nil {
		al.Duration = connecthub.Duration(r.FinishedAt.Sub(*r.StartedAt))
	}
	return al
}

// runEnd applies failure and recovery rules to a run that ended: a
// failure rule fires once the job has failed Threshold times in a row;
// a success after an announced failure fires the recovery rules once and
// clears the failing mark.
func (a *alerter) runEnd(ctx context.Context, runID string) error {
	run, err := a.tx.Run(ctx, runID)
	if err != nil || run == nil {
		return err
	}
	switch run.Status {
	case connecthub.StatusFailure:
		return a.failure(ctx, run)
	case connecthub.StatusSuccess:
		return a.recovery(ctx, run)
	}
	return nil
}

func (a *alerter) failure(ctx context.Context, run *connecthub.Run) error {
	announced := false
	for _, r := range a.matching(connecthub.EventFailure, run.JobID, run.Snapshot.Handler, run.Queue) {
		th, err := r.ParseThreshold()
		if err != nil {
			continue // a rule stored before its threshold rules changed: skipped, not fatal
		}
		n, err := a.tx.TrailingFailures(ctx, run.JobID, run.ID, th.Failures)
		if err != nil {
			return err
		}
		if n < th.Failures {
			continue
		}
		al := RunAlert(run)
		al.Failures = n
		sent, err := a.fire(ctx, r, run.JobID, run.ID, al)
		if err != nil {
			return err
		}
		announced = announced || sent
	}
	if announced {
		return a.tx.SetFailing(ctx, run.JobID, true)
	}
	return nil
}

func (a *alerter) recovery(ctx context.Context, run *connecthub.Run) error {
	failing, err := a.tx.Failing(ctx, run.JobID)
	if err != nil || !failing {
		return err
	}
	for _, r := range a.matching(connecthub.EventRecovery, run.JobID, run.Snapshot.Handler, run.Queue) {
		if _, err := a.fire(ctx, r, run.JobID, run.ID, RunAlert(run)); err != nil {
			return err
		}
	}
	return a.tx.SetFailing(ctx, run.JobID, false)
}

func (a *alerter) workerLost(ctx context.Context, runID string) error {
	run, err := a.tx.Run(ctx, runID)
	if err != nil || run == nil {
		return err
	}
	for _, r := range a.matching(connecthub.EventWorkerLost, run.JobID, run.Snapshot.Handler, run.Queue) {
		al := RunAlert(run)
		al.Node = lostNode(run)
		al.Error = connecthub.ReasonWorkerLost
		if _, err := a.fire(ctx, r, run.JobID, run.ID+"/"+strconv.Itoa(run.Attempt), al); err != nil {
			return err
		}
	}
	return nil
}

// lostNode is the node a rescued run was lost on: a re-queued run's node
// is cleared, so its last attempt in the history names it.
func lostNode(run *connecthub.Run) string {
	if run.Node != "" {
		return run.Node
	}
	if n := len(run.Attempts); n > 0 {
		return run.Attempts[n-1].Node
	}
	return ""
}

func (a *alerter) nodeDown(ctx context.Context, name string) error {
	node, err := a.tx.Node(ctx, name)
	if err != nil || node == nil {
		return err
	}
	for _, r := range a.rules {
		if r.Event != connecthub.EventNodeDown || (r.Match.Queue != "" && !slices.Contains(node.Queues, r.Match.Queue)) {
			continue
		}
		hb := node.LastHeartbeat
		al := connecthub.Alert{Node: node.Name, StartedAt: &hb}
		if _, err := a.fire(ctx, r, "node:"+node.Name, node.Name+"@"+hb.Format(time.RFC3339Nano), al); err != nil {
			return err
		}
	}
	return nil
}

// checkLimit bounds how many candidates one check looks at.
const checkLimit = 500

func (a *alerter) missed(ctx context.Context) error {
	var rules []*connecthub.AlertRule
	grace := time.Duration(-1)
	for _, r := range a.rules {
		if r.Event != connecthub.EventMissed {
			continue
		}
		th, err := r.ParseThreshold()
		if err != nil {
			continue
		}
		rules = append(rules, r)
		if grace < 0 || th.Duration < grace {
			grace = th.Duration
		}
	}
	if len(rules) == 0 {
		return nil
	}
	slots, err := a.tx.MissedSlots(ctx, a.now.Add(-grace), checkLimit)
	if err != nil {
		return err
	}
	for _, s := range slots {
		for _, r := range rules {
			th, _ := r.ParseThreshold()
			if !r.Match.Matches(s.JobID, s.Handler, s.Queue) || s.Slot.After(a.now.Add(-th.Duration)) {
				continue
			}
			slot := s.Slot
			al := connecthub.Alert{JobID: s.JobID, RunID: s.RunID, Handler: s.Handler, Queue: s.Queue,
				ScheduledFor: &slot, Trigger: string(connecthub.TriggerCron)}
			if s.RunID != "" {
				al.Status = string(connecthub.StatusQueued)
			}
			if _, err := a.fire(ctx, r, s.JobID, "slot:"+slot.Format(time.RFC3339Nano), al); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *alerter) longRunning(ctx context.Context) error {
	var rules []*connecthub.AlertRule
	for _, r := range a.rules {
		if r.Event == connecthub.EventLongRunning {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return nil
	}
	// A run needs at least a second to be long by any rule's measure.
	runs, err := a.tx.LongRuns(ctx, a.now.Add(-time.Second), checkLimit)
	if err != nil {
		return err
	}
	medians := map[string]time.Duration{}
	for _, run := range runs {
		if run.StartedAt == nil {
			continue
		}
		elapsed := a.now.Sub(*run.StartedAt)
		for _, r := range a.matching(connecthub.EventLongRunning, run.JobID, run.Snapshot.Handler, run.Queue) {
			th, err := r.ParseThreshold()
			if err != nil {
				continue
			}
			limit := th.Duration
			if th.Factor > 0 {
				m, ok := medians[run.JobID]
				if !ok {
					durs, err := a.tx.RecentDurations(ctx, run.JobID)
					if err != nil {
						return err
					}
					m = Median(durs)
					medians[run.JobID] = m
				}
				if m <= 0 {
					continue // no successful run yet: nothing to compare with
				}
				limit = time.Duration(th.Factor * float64(m))
			}
			if elapsed <= limit {
				continue
			}
			al := RunAlert(run)
			al.Duration = connecthub.Duration(elapsed)
			if _, err := a.fire(ctx, r, run.JobID, run.ID, al); err != nil {
				return err
			}
		}
	}
	return nil
}

// Median returns the median of durations (the mean of the middle two for
// an even count), 0 for none.
func Median(durs []time.Duration) time.Duration {
	if len(durs) == 0 {
		return 0
	}
	s := slices.Clone(durs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
