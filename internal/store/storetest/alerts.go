package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

func testChannel(name string) *connecthub.Channel {
	return &connecthub.Channel{
		Name: name, Type: connecthub.ChannelDingTalk, Language: "zh-CN",
		URL:         "https://oapi.dingtalk.com/robot/send?access_token=******",
		SecretToken: "gAAAAAB-channel-" + name, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Hour),
	}
}

func createChannel(t *testing.T, s store.Store, name string) *connecthub.Channel {
	t.Helper()
	c := testChannel(name)
	if err := s.ChannelCreate(t.Context(), c); err != nil {
		t.Fatalf("ChannelCreate(%s): %v", name, err)
	}
	return c
}

// createRule inserts an enabled rule for event on every job, to channel
// "ops", and returns it with its id.
func createRule(t *testing.T, s store.Store, event, threshold string, quiet time.Duration, opts ...func(*connecthub.AlertRule)) *connecthub.AlertRule {
	t.Helper()
	r := &connecthub.AlertRule{Name: event + " rule", Enabled: true, Event: event, Threshold: threshold,
		Channels: []string{"ops"}, QuietPeriod: connecthub.Duration(quiet), CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Hour)}
	for _, o := range opts {
		o(r)
	}
	if err := s.AlertRuleCreate(t.Context(), r); err != nil {
		t.Fatalf("AlertRuleCreate: %v", err)
	}
	if r.ID == "" {
		t.Fatalf("AlertRuleCreate left the rule without an id")
	}
	return r
}

func process(t *testing.T, s store.Store, now time.Time) {
	t.Helper()
	if _, err := s.AlertProcess(t.Context(), now, 100); err != nil {
		t.Fatalf("AlertProcess: %v", err)
	}
}

func check(t *testing.T, s store.Store, now time.Time) int {
	t.Helper()
	n, err := s.AlertCheck(t.Context(), now)
	if err != nil {
		t.Fatalf("AlertCheck: %v", err)
	}
	return n
}

// outbox returns the notifications of one event, oldest first.
func outbox(t *testing.T, s store.Store, event string) []*connecthub.Notification {
	t.Helper()
	list, _, err := s.NotificationList(t.Context(), connecthub.NotificationFilter{Event: event, Limit: 100})
	if err != nil {
		t.Fatalf("NotificationList: %v", err)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

// endRun runs one manual run of j to status at now.
func endRun(t *testing.T, s store.Store, j *connecthub.Job, status connecthub.RunStatus, now time.Time) *connecthub.Run {
	t.Helper()
	r := runningRun(t, s, j, node1, now.Add(-time.Minute))
	o := store.RunOutcome{ID: r.ID, Node: node1, Status: status, Error: "boom\nline 2", Now: now, Attempt: r.Attempt}
	if status == connecthub.StatusSuccess {
		o.Error = ""
	}
	if applied := complete(t, s, o); !applied[0] {
		t.Fatalf("completing %s did not apply", r.ID)
	}
	return r
}

func exerciseAlerts(t *testing.T, newStore NewStoreFunc) {
	t.Run("ProcessAndCheckArguments", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
		for _, limit := range []int{0, -1} {
			_, err := s.AlertProcess(t.Context(), now, limit)
			requireKind(t, err, connecthub.KindInvalid)
		}
		_, err := s.AlertProcess(t.Context(), time.Time{}, 10)
		requireKind(t, err, connecthub.KindInvalid)
		_, err = s.AlertCheck(t.Context(), time.Time{})
		requireKind(t, err, connecthub.KindInvalid)
		// Nothing recorded and no rule: nothing to do, and no error.
		if n, err := s.AlertProcess(t.Context(), now, 10); n != 0 || err != nil {
			t.Errorf("AlertProcess on an empty store = %d, %v", n, err)
		}
		if n, err := s.AlertCheck(t.Context(), now); n != 0 || err != nil {
			t.Errorf("AlertCheck on an empty store = %d, %v", n, err)
		}
	})
	t.Run("ChannelsAndRules", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		c := createChannel(t, s, "ops")
		requireCode(t, s.ChannelCreate(ctx, testChannel("ops")), connecthub.KindConflict, "channel_exists", "ops")
		got, err := s.ChannelGet(ctx, "ops")
		if err != nil || got.SecretToken != c.SecretToken || !got.HasSecret || got.URL != c.URL || got.Language != "zh-CN" {
			t.Fatalf("ChannelGet = %+v, %v", got, err)
		}
		checkTime(t, "created_at", c.CreatedAt, got.CreatedAt)
		_, err = s.ChannelGet(ctx, "nope")
		requireKind(t, err, connecthub.KindNotFound)

		mail := testChannel("mail")
		mail.Type, mail.URL = connecthub.ChannelEmail, ""
		mail.SMTP = &connecthub.ChannelSMTP{Host: "smtp.example.com", From: "a@example.com", To: []string{"b@example.com"}}
		if err := s.ChannelCreate(ctx, mail); err != nil {
			t.Fatalf("ChannelCreate(email): %v", err)
		}
		list, err := s.ChannelList(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "mail" || list[1].Name != "ops" {
			t.Fatalf("ChannelList = %v, %v", list, err)
		}
		if list[0].SMTP == nil || list[0].SMTP.Port != 587 || list[0].SMTP.TLS != connecthub.SMTPStartTLS {
			t.Fatalf("email channel read back as %+v", list[0].SMTP)
		}
		bad := testChannel("bad")
		bad.Type = "pager"
		requireKind(t, s.ChannelCreate(ctx, bad), connecthub.KindInvalid)

		_, err = s.ChannelUpdate(ctx, "ops", func(c *connecthub.Channel) error { c.Name = "other"; return nil })
		requireKind(t, err, connecthub.KindInvalid)
		up, err := s.ChannelUpdate(ctx, "ops", func(c *connecthub.Channel) error {
			c.Language, c.SecretToken, c.UpdatedAt = "en", "", t0
			return nil
		})
		if err != nil || up.Language != "en" || up.HasSecret {
			t.Fatalf("ChannelUpdate = %+v, %v", up, err)
		}
		// The read-modify-write rule (store.Modify): the callback's own
		// error comes back as it was and nothing is written; a missing
		// record is KindNotFound.
		errOwn := errors.New("the caller's own error")
		_, err = s.ChannelUpdate(ctx, "ops", func(c *connecthub.Channel) error { c.Language = "zh-CN"; return errOwn })
		if !errors.Is(err, errOwn) {
			t.Fatalf("ChannelUpdate with a failing callback = %v, want the callback's error", err)
		}
		if got, err := s.ChannelGet(ctx, "ops"); err != nil || got.Language != "en" {
			t.Fatalf("a failed ChannelUpdate wrote: %+v, %v", got, err)
		}
		_, err = s.ChannelUpdate(ctx, "nope", func(*connecthub.Channel) error { return nil })
		requireKind(t, err, connecthub.KindNotFound)
		_, err = s.ChannelUpdate(ctx, "ops", func(c *connecthub.Channel) error { c.Type = "pager"; return nil })
		requireKind(t, err, connecthub.KindInvalid)

		r := createRule(t, s, connecthub.EventFailure, "", 0, func(r *connecthub.AlertRule) {
			r.Channels = []string{"ops", "mail"}
			r.Match = connecthub.RuleMatch{Job: "payroll.*"}
		})
		if r.Threshold != "1" {
			t.Fatalf("a failure rule's threshold defaults to 1, got %q", r.Threshold)
		}
		rg, err := s.AlertRuleGet(ctx, r.ID)
		if err != nil || !reflect.DeepEqual(rg.Channels, []string{"ops", "mail"}) || rg.Match.Job != "payroll.*" || !rg.Enabled {
			t.Fatalf("AlertRuleGet = %+v, %v", rg, err)
		}
		requireKind(t, s.ChannelDelete(ctx, "mail"), connecthub.KindConflict)
		err = s.AlertRuleCreate(ctx, &connecthub.AlertRule{Name: "x", Event: connecthub.EventFailure,
			Channels: []string{"ghost"}, CreatedAt: t0, UpdatedAt: t0})
		requireKind(t, err, connecthub.KindInvalid)
		requireKind(t, s.AlertRuleCreate(ctx, &connecthub.AlertRule{Name: "x", Event: "explode",
			Channels: []string{"ops"}, CreatedAt: t0, UpdatedAt: t0}), connecthub.KindInvalid)
		requireKind(t, s.AlertRuleCreate(ctx, &connecthub.AlertRule{Name: "x", Event: connecthub.EventLongRunning,
			Threshold: "soon", Channels: []string{"ops"}, CreatedAt: t0, UpdatedAt: t0}), connecthub.KindInvalid)

		ru, err := s.AlertRuleUpdate(ctx, r.ID, func(r *connecthub.AlertRule) error {
			r.Channels, r.Enabled, r.UpdatedAt = []string{"ops"}, false, t0
			return nil
		})
		if err != nil || !reflect.DeepEqual(ru.Channels, []string{"ops"}) || ru.Enabled {
			t.Fatalf("AlertRuleUpdate = %+v, %v", ru, err)
		}
		_, err = s.AlertRuleUpdate(ctx, r.ID, func(r *connecthub.AlertRule) error { r.Channels = []string{"ghost"}; return nil })
		requireKind(t, err, connecthub.KindInvalid)
		_, err = s.AlertRuleUpdate(ctx, r.ID, func(r *connecthub.AlertRule) error { r.ID = "other"; return nil })
		requireKind(t, err, connecthub.KindInvalid)
		_, err = s.AlertRuleUpdate(ctx, r.ID, func(r *connecthub.AlertRule) error { r.Event = "explode"; return nil })
		requireKind(t, err, connecthub.KindInvalid)
		_, err = s.AlertRuleUpdate(ctx, r.ID, func(r *connecthub.AlertRule) error { r.Enabled = true; return errOwn })
		if !errors.Is(err, errOwn) {
			t.Fatalf("AlertRuleUpdate with a failing callback = %v, want the callback's error", err)
		}
		if got, err := s.AlertRuleGet(ctx, r.ID); err != nil || got.Enabled {
			t.Fatalf("a failed AlertRuleUpdate wrote: %+v, %v", got, err)
		}
		_, err = s.AlertRuleUpdate(ctx, "01NOPE", func(*connecthub.AlertRule) error { return nil })
		requireKind(t, err, connecthub.KindNotFound)
		if err := s.ChannelDelete(ctx, "mail"); err != nil {
			t.Fatalf("ChannelDelete of a channel no rule names: %v", err)
		}
		rules, err := s.AlertRuleList(ctx)
		if err != nil || len(rules) != 1 {
			t.Fatalf("AlertRuleList = %v, %v", rules, err)
		}
		if err := s.AlertRuleDelete(ctx, r.ID); err != nil {
			t.Fatalf("AlertRuleDelete: %v", err)
		}
		requireKind(t, s.AlertRuleDelete(ctx, r.ID), connecthub.KindNotFound)
		requireKind(t, s.ChannelDelete(ctx, "mail"), connecthub.KindNotFound)
	})

	t.Run("NoRulesNoEvents", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		j := newJob(t, s, "quiet")
		endRun(t, s, j, connecthub.StatusFailure, t0)
		if pending, err := s.AlertPending(t.Context()); err != nil || pending {
			t.Fatalf("AlertPending without rules = %v, %v; want false", pending, err)
		}
	})

	t.Run("FailureQuietRecovery", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		createChannel(t, s, "ops")
		createRule(t, s, connecthub.EventFailure, "2", 10*time.Minute, func(r *connecthub.AlertRule) { r.Match.Job = "pay*" })
		createRule(t, s, connecthub.EventRecovery, "", 0)
		j := newJob(t, s, "payroll")
		other := newJob(t, s, "other")

		endRun(t, s, j, connecthub.StatusFailure, t0)
		endRun(t, s, other, connecthub.StatusFailure, t0)
		endRun(t, s, other, connecthub.StatusFailure, t0)
		if pending, _ := s.AlertPending(t.Context()); !pending {
			t.Fatalf("a run that ended under a rule recorded no event")
		}
		process(t, s, t0)
		if got := outbox(t, s, connecthub.EventFailure); len(got) != 0 {
			t.Fatalf("one failure of threshold 2 (and another job's) alerted: %v", got)
		}
		second := endRun(t, s, j, connecthub.StatusFailure, t0.Add(time.Minute))
		endRun(t, s, j, connecthub.StatusFailure, t0.Add(2*time.Minute))
		process(t, s, t0.Add(2*time.Minute))
		got := outbox(t, s, connecthub.EventFailure)
		if len(got) != 1 || got[0].RunID != second.ID || got[0].Channel != "ops" || got[0].Status != connecthub.DeliveryPending {
			t.Fatalf("the second failure in a row should alert once within the quiet period, got %+v", got)
		}
		al := got[0].Alert
		if al.JobID != "payroll" || al.Status != "FAILURE" || al.Failures != 2 || al.Error != "boom\nline 2" || al.Node != node1 || al.Duration != connecthub.Duration(time.Minute) {
			t.Fatalf("alert = %+v", al)
		}
		endRun(t, s, j, connecthub.StatusFailure, t0.Add(11*time.Minute))
		process(t, s, t0.Add(13*time.Minute))
		if got := outbox(t, s, connecthub.EventFailure); len(got) != 2 {
			t.Fatalf("after the quiet period a failure alerts again: got %d", len(got))
		}
		ok := endRun(t, s, j, connecthub.StatusSuccess, t0.Add(14*time.Minute))
		endRun(t, s, j, connecthub.StatusSuccess, t0.Add(15*time.Minute))
		endRun(t, s, other, connecthub.StatusSuccess, t0.Add(15*time.Minute))
		process(t, s, t0.Add(15*time.Minute))
		rec := outbox(t, s, connecthub.EventRecovery)
		if len(rec) != 1 || rec[0].RunID != ok.ID {
			t.Fatalf("recovery should alert once, for the first success after an alerted failure: %+v", rec)
		}
		if pending, _ := s.AlertPending(t.Context()); pending {
			t.Fatalf("AlertProcess left events behind")
		}
	})

	// The streak a failure rule's threshold counts is the job's FAILUREs
	// since its newest SUCCESS, up to the run whose event is processed (and
	// at most the threshold): a success ends it, a cancel does not.
	t.Run("FailureStreakAcrossEnds", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		createChannel(t, s, "ops")
		createRule(t, s, connecthub.EventFailure, "3", 0)
		j := newJob(t, s, "streaky")
		endRun(t, s, j, connecthub.StatusFailure, t0)
		endRun(t, s, j, connecthub.StatusFailure, t0.Add(time.Minute))
		endRun(t, s, j, connecthub.StatusSuccess, t0.Add(2*time.Minute))
		endRun(t, s, j, connecthub.StatusFailure, t0.Add(3*time.Minute))
		canceled := queuedRun(t, s, j, t0.Add(4*time.Minute))
		if _, err := s.RunCancel(t.Context(), canceled.ID, t0.Add(4*time.Minute)); err != nil {
			t.Fatal(err)
		}
		endRun(t, s, j, connecthub.StatusFailure, t0.Add(5*time.Minute))
		process(t, s, t0.Add(5*time.Minute))
		if got := outbox(t, s, connecthub.EventFailure); len(got) != 0 {
			t.Fatalf("two failures since the last success alerted under threshold 3: %+v", got[0].Alert)
		}
		third := endRun(t, s, j, connecthub.StatusFailure, t0.Add(6*time.Minute))
		endRun(t, s, j, connecthub.StatusFailure, t0.Add(7*time.Minute))
		process(t, s, t0.Add(7*time.Minute))
		got := outbox(t, s, connecthub.EventFailure)
		if len(got) != 2 || got[0].RunID != third.ID || got[0].Alert.Failures != 3 || got[1].Alert.Failures != 3 {
			t.Fatalf("the third and fourth failures in a row should each alert, counting 3, got %d: %s %d, %s %d (third %s)", len(got), got[0].RunID, got[0].Alert.Failures, got[1].RunID, got[1].Alert.Failures, third.ID)
		}
	})

	t.Run("WorkerLostAndNodeDown", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		createChannel(t, s, "ops")
		createRule(t, s, connecthub.EventWorkerLost, "", 0)
		createRule(t, s, connecthub.EventNodeDown, "", 0, func(r *connecthub.AlertRule) { r.Match.Queue = "integrations" })
		j := newJob(t, s, "lost")
		newNode(t, s, node2, connecthub.NodeActive, t0.Add(-time.Minute))
		r := runningRun(t, s, j, node2, t0.Add(-time.Minute))
		if _, _, err := s.NodeMarkDead(t.Context(), t0.Add(-30*time.Second), t0); err != nil {
			t.Fatalf("NodeMarkDead: %v", err)
		}
		process(t, s, t0)
		lost := outbox(t, s, connecthub.EventWorkerLost)
		if len(lost) != 1 || lost[0].RunID != r.ID || lost[0].Alert.Node != node2 {
			t.Fatalf("worker_lost = %+v", lost)
		}
		down := outbox(t, s, connecthub.EventNodeDown)
		if len(down) != 1 || down[0].Alert.Node != node2 {
			t.Fatalf("node_down = %+v", down)
		}
	})

	t.Run("MissedAndLongRunning", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		createChannel(t, s, "ops")
		createRule(t, s, connecthub.EventMissed, "5m", time.Hour)
		createRule(t, s, connecthub.EventLongRunning, "30m", 0, func(r *connecthub.AlertRule) { r.Match.Job = "slow" })
		createRule(t, s, connecthub.EventLongRunning, "3x", 0, func(r *connecthub.AlertRule) { r.Match.Job = "median" })
		slot := t0.Add(-10 * time.Minute)
		newJob(t, s, "stuck", func(j *connecthub.Job) { j.NextRunAt = &slot })
		fresh := t0.Add(-time.Minute)
		newJob(t, s, "fresh", func(j *connecthub.Job) { j.NextRunAt = &fresh })
		slow := newJob(t, s, "slow")
		med := newJob(t, s, "median")
		for i := range 3 {
			endRun(t, s, med, connecthub.StatusSuccess, t0.Add(-time.Duration(10-i)*time.Hour)) // one minute each
		}
		sr := runningRun(t, s, slow, node1, t0.Add(-31*time.Minute))
		mr := runningRun(t, s, med, node1, t0.Add(-4*time.Minute))
		n := check(t, s, t0)
		missed := outbox(t, s, connecthub.EventMissed)
		if len(missed) != 1 || missed[0].JobID != "stuck" || !missed[0].Alert.ScheduledFor.Equal(us(slot)) {
			t.Fatalf("missed = %+v", missed)
		}
		long := outbox(t, s, connecthub.EventLongRunning)
		if n != 3 || len(long) != 2 || long[0].RunID == long[1].RunID {
			t.Fatalf("AlertCheck wrote %d; long_running = %+v", n, long)
		}
		for _, l := range long {
			if l.RunID != sr.ID && l.RunID != mr.ID {
				t.Fatalf("long_running names run %s", l.RunID)
			}
		}
		if n := check(t, s, t0.Add(time.Minute)); n != 0 {
			t.Fatalf("the same slot and runs alerted again: %d", n)
		}
	})

	t.Run("Delivery", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		ctx := t.Context()
		ns := []*connecthub.Notification{{Channel: "ops", Event: connecthub.EventTest, NextAttemptAt: t0, CreatedAt: t0},
			{Channel: "mail", Event: connecthub.EventTest, NextAttemptAt: t0.Add(time.Hour), CreatedAt: t0}}
		if err := s.NotificationInsert(ctx, ns); err != nil {
			t.Fatalf("NotificationInsert: %v", err)
		}
		p := store.NotificationClaimParams{Owner: "a", Max: 10, LeaseTTL: time.Minute, Now: t0}
		got, err := s.NotificationClaim(ctx, p)
		if err != nil || len(got) != 1 || got[0].ID != ns[0].ID {
			t.Fatalf("NotificationClaim = %v, %v; want only the due one", got, err)
		}
		p.Owner = "b"
		if again, _ := s.NotificationClaim(ctx, p); len(again) != 0 {
			t.Fatalf("a leased notification was claimed twice")
		}
		res := store.NotificationResult{ID: ns[0].ID, Owner: "b", NextAttemptAt: t0.Add(time.Minute),
			Attempt: connecthub.DeliveryAttempt{At: t0, OK: false, Response: "HTTP 500"}}
		if ok, err := s.NotificationRecord(ctx, res); err != nil || ok {
			t.Fatalf("a non-owner recorded a result: %v %v", ok, err)
		}
		res.Owner = "a"
		if ok, err := s.NotificationRecord(ctx, res); err != nil || !ok {
			t.Fatalf("NotificationRecord = %v, %v", ok, err)
		}
		p.Now = t0.Add(30 * time.Second)
		if early, _ := s.NotificationClaim(ctx, p); len(early) != 0 {
			t.Fatalf("a notification was claimed before its back-off ended")
		}
		p.Now = t0.Add(time.Minute)
		got, _ = s.NotificationClaim(ctx, p)
		if len(got) != 1 || got[0].Attempts != 1 || len(got[0].History) != 1 || got[0].History[0].Response != "HTTP 500" {
			t.Fatalf("retry claim = %+v", got)
		}
		res = store.NotificationResult{ID: ns[0].ID, Owner: "b", Sent: true,
			Attempt: connecthub.DeliveryAttempt{At: p.Now, OK: true, Response: `{"errcode":0}`}}
		if ok, _ := s.NotificationRecord(ctx, res); !ok {
			t.Fatalf("the second owner's result did not apply")
		}
		n, err := s.NotificationGet(ctx, ns[0].ID)
		if err != nil || n.Status != connecthub.DeliverySent || n.Attempts != 2 || n.SentAt == nil || len(n.History) != 2 {
			t.Fatalf("NotificationGet = %+v, %v", n, err)
		}
		checkTime(t, "sent_at", p.Now, *n.SentAt)
		if ok, _ := s.NotificationRecord(ctx, res); ok {
			t.Fatalf("a sent notification took another result")
		}
		page, next, err := s.NotificationList(ctx, connecthub.NotificationFilter{Limit: 1})
		if err != nil || len(page) != 1 || page[0].ID != ns[1].ID || next == "" {
			t.Fatalf("NotificationList page 1 = %v %q %v", page, next, err)
		}
		page, next, _ = s.NotificationList(ctx, connecthub.NotificationFilter{Limit: 1, Cursor: next})
		if len(page) != 1 || page[0].ID != ns[0].ID || next != "" {
			t.Fatalf("NotificationList page 2 = %v %q", page, next)
		}
		sent, _, _ := s.NotificationList(ctx, connecthub.NotificationFilter{Status: connecthub.DeliverySent})
		if len(sent) != 1 {
			t.Fatalf("status filter: %v", sent)
		}
		_, _, err = s.NotificationList(ctx, connecthub.NotificationFilter{Status: "lost"})
		requireKind(t, err, connecthub.KindInvalid)
		_, err = s.NotificationGet(ctx, "nope")
		requireKind(t, err, connecthub.KindNotFound)

		// Pruning keeps what is pending, however old, and what is recent.
		if n, err := s.NotificationPrune(ctx, t0, 10); err != nil || n != 0 {
			t.Fatalf("NotificationPrune before the sent one was created = %d, %v", n, err)
		}
		if n, err := s.NotificationPrune(ctx, t0.Add(time.Second), 10); err != nil || n != 1 {
			t.Fatalf("NotificationPrune = %d, %v; want the sent one only", n, err)
		}
		if _, err := s.NotificationGet(ctx, ns[1].ID); err != nil {
			t.Fatalf("the pending notification was pruned: %v", err)
		}
		_, err = s.NotificationPrune(ctx, t0, 0)
		requireKind(t, err, connecthub.KindInvalid)
	})
}
