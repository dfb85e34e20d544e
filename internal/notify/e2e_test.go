package notify

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/notify/notifytest"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/store/sqlitestore"
)

func testKeyring(t *testing.T) *secret.Keyring {
	t.Helper()
	k, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secret.Parse(k, "test")
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "hub.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startServices runs a processor and a sender on st, as a serve replica
// does, and stops them when the test ends.
func startServices(t *testing.T, st store.Store, kr *secret.Keyring, owner string) *Sender {
	t.Helper()
	snd := NewSender(SenderConfig{Store: st, Keyring: kr, Owner: owner, Interval: 20 * time.Millisecond,
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, PublicURL: "http://127.0.0.1:8000"})
	proc := NewProcessor(ProcessorConfig{Store: st, Interval: 20 * time.Millisecond, CheckInterval: 20 * time.Millisecond, Notified: snd.Wake})
	for _, svc := range []interface {
		Start(context.Context) error
		Stop(context.Context) error
	}{snd, proc} {
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	}
	return snd
}

// waitFor polls cond until it holds or 10 seconds pass: the services
// work on their own goroutines, and the test waits for what they did.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dingTalkChannel(t *testing.T, svc *Service, name, url, secret string) {
	t.Helper()
	if _, err := svc.CreateChannel(t.Context(), ChannelInput{Name: name, Type: connecthub.ChannelDingTalk,
		Language: "zh-CN", URL: &url, Secret: &secret}); err != nil {
		t.Fatalf("CreateChannel: %v", err)
	}
}

// finish runs one manual run of job to status through the queue, as a
// worker would, at the wall clock's now.
func finish(t *testing.T, st store.Store, job *connecthub.Job, status connecthub.RunStatus) *connecthub.Run {
	t.Helper()
	now := time.Now()
	r := connecthub.NewRun(job, connecthub.TriggerManual, now, now, "test")
	r.Queue = "q-" + job.ID
	if err := st.RunInsert(t.Context(), []*connecthub.Run{r}); err != nil {
		t.Fatal(err)
	}
	got, err := st.RunClaim(t.Context(), store.RunClaimParams{Node: "w1", Queues: []string{r.Queue}, Max: 1, LeaseTTL: time.Minute, Now: now})
	if err != nil || len(got) != 1 {
		t.Fatalf("RunClaim = %v, %v", got, err)
	}
	o := store.RunOutcome{ID: r.ID, Node: "w1", Status: status, Now: time.Now(), Attempt: got[0].Attempt}
	if status == connecthub.StatusFailure {
		o.Error = "upstream answered 502"
	}
	if _, err := st.RunComplete(t.Context(), []store.RunOutcome{o}); err != nil {
		t.Fatal(err)
	}
	return r
}

func newTestJob(t *testing.T, st store.Store, id string, next *time.Time) *connecthub.Job {
	t.Helper()
	now := time.Now()
	j := &connecthub.Job{ID: id, Enabled: true, Timezone: "UTC", Handler: "noop", PublicCfg: []byte(`{}`), CronExpr: "* * * * *",
		MaxAttempts: 1, Concurrency: connecthub.ConcurrencyAllow, Misfire: connecthub.MisfireOnce,
		Queue: connecthub.DefaultQueue, CreatedAt: now, UpdatedAt: now, NextRunAt: next}
	if err := st.JobCreate(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestFailureAlertsOncePerQuietPeriodAndRecoveryOnce(t *testing.T) {
	t.Parallel()
	st, kr := openSQLite(t), testKeyring(t)
	ding := notifytest.DingTalk(t, "tok", "SECret")
	svc := &Service{Store: st, Keyring: kr}
	dingTalkChannel(t, svc, "ops", ding.URL+"/robot/send?access_token=tok", "SECret")
	if _, err := svc.CreateRule(t.Context(), RuleInput{Name: "fail", Event: connecthub.EventFailure, Channels: []string{"ops"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateRule(t.Context(), RuleInput{Name: "ok again", Event: connecthub.EventRecovery, Channels: []string{"ops"}}); err != nil {
		t.Fatal(err)
	}
	startServices(t, st, kr, "replica-1")
	job := newTestJob(t, st, "payroll", nil)

	first := finish(t, st, job, connecthub.StatusFailure)
	waitFor(t, "the failure alert", func() bool { return len(ding.Messages()) == 1 })
	finish(t, st, job, connecthub.StatusFailure)
	finish(t, st, job, connecthub.StatusFailure)
	ok := finish(t, st, job, connecthub.StatusSuccess)
	waitFor(t, "the recovery alert", func() bool { return len(ding.Messages()) == 2 })
	finish(t, st, job, connecthub.StatusSuccess)
	// Everything recorded so far is processed once the log shows the
	// recovery; a further failure inside the quiet period stays quiet.
	finish(t, st, job, connecthub.StatusFailure)
	waitFor(t, "the events to be consumed", func() bool { p, _ := st.AlertPending(t.Context()); return !p })
	msgs := ding.Messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want one failure and one recovery", len(msgs))
	}
	log, _, err := st.NotificationList(t.Context(), connecthub.NotificationFilter{})
	if err != nil || len(log) != 2 {
		t.Fatalf("delivery log = %v, %v", log, err)
	}
	if log[1].RunID != first.ID || log[1].Event != connecthub.EventFailure || log[0].RunID != ok.ID || log[0].Event != connecthub.EventRecovery {
		t.Fatalf("delivery log: %+v %+v", log[1], log[0])
	}
	waitFor(t, "both deliveries to be recorded", func() bool {
		log, _, _ := st.NotificationList(t.Context(), connecthub.NotificationFilter{Status: connecthub.DeliverySent})
		return len(log) == 2
	})
}

func TestRetriesUntilTheReceiverAccepts(t *testing.T) {
	t.Parallel()
	st, kr := openSQLite(t), testKeyring(t)
	ding := notifytest.DingTalk(t, "tok", "SECret")
	ding.Fail = 3
	svc := &Service{Store: st, Keyring: kr}
	dingTalkChannel(t, svc, "ops", ding.URL+"/robot/send?access_token=tok", "SECret")
	n, err := svc.TestChannel(t.Context(), "ops", "tester")
	if err != nil {
		t.Fatal(err)
	}
	startServices(t, st, kr, "replica-1")
	waitFor(t, "the delivery", func() bool { return len(ding.Messages()) == 1 })
	if ding.Requests() != 4 {
		t.Fatalf("the receiver saw %d requests, want 3 failures and the fourth accepted", ding.Requests())
	}
	var got *connecthub.Notification
	waitFor(t, "the record", func() bool {
		got, _ = st.NotificationGet(t.Context(), n.ID)
		return got.Status == connecthub.DeliverySent
	})
	if got.Attempts != 4 || len(got.History) != 4 || got.History[0].OK || !got.History[3].OK {
		t.Fatalf("history = %+v", got.History)
	}
	if got.History[0].Response == "" || got.History[3].Response != `HTTP 200 {"errcode":0,"errmsg":"ok"}` {
		t.Fatalf("the receiver's answers were not recorded: %+v", got.History)
	}
}

func TestMissedFiresWithoutAScheduler(t *testing.T) {
	t.Parallel()
	st, kr := openSQLite(t), testKeyring(t)
	ding := notifytest.DingTalk(t, "tok", "")
	svc := &Service{Store: st, Keyring: kr}
	dingTalkChannel(t, svc, "ops", ding.URL+"/robot/send?access_token=tok", "")
	if _, err := svc.CreateRule(t.Context(), RuleInput{Name: "missed", Event: connecthub.EventMissed, Threshold: "1s", Channels: []string{"ops"}}); err != nil {
		t.Fatal(err)
	}
	// No scheduler runs: the job's slot two minutes ago was never fired.
	// The replica that is still up (only its processor and sender run)
	// notices.
	slot := time.Now().Add(-2 * time.Minute).Truncate(time.Minute)
	newTestJob(t, st, "nightly", &slot)
	startServices(t, st, kr, "survivor")
	waitFor(t, "the missed alert", func() bool { return len(ding.Messages()) == 1 })
	log, _, _ := st.NotificationList(t.Context(), connecthub.NotificationFilter{Event: connecthub.EventMissed})
	if len(log) != 1 || log[0].JobID != "nightly" || !log[0].Alert.ScheduledFor.Equal(slot) {
		t.Fatalf("missed = %+v", log)
	}
	text := fmt.Sprint(ding.Messages()[0].Body)
	if !strings.Contains(text, "错过了计划执行") {
		t.Fatalf("message: %s", text)
	}
}
