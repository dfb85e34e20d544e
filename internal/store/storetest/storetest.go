// Package storetest is the conformance suite of the storage contract
// (internal/store). Every driver runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Exercise(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// Every subtest runs in parallel on its own fresh store, and checks only
// what the contract promises, never how a driver keeps it, so that SQLite
// and PostgreSQL are held to exactly the same behaviour.
//
// Times are compared in UTC at microsecond precision, the precision both
// drivers store. Stores are expected to publish their notifications before
// the method that caused them returns (in-process) or shortly after
// (LISTEN/NOTIFY); the suite waits on the channel with a timeout and never
// sleeps.
//
// # Rules
//
// The doc comments of package store are the specification, including its
// list of rules every driver keeps (where the method comments alone would
// leave a choice open); the suite checks each of them.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// NewStoreFunc returns a fresh, empty, migrated store for one test and
// arranges (with t.Cleanup) for it to be closed and removed.
type NewStoreFunc func(t *testing.T) store.Store

// Exercise runs the whole conformance suite against the driver that
// newStore opens. Each subtest calls newStore for a store of its own.
func Exercise(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, newStore NewStoreFunc)
	}{
		{"Jobs", exerciseJobs},
		{"JobWrites", exerciseJobWrites},
		{"JobsFire", exerciseJobsFire},
		{"Runs", exerciseRuns},
		{"JobRuns", exerciseJobRuns},
		{"Logs", exerciseLogs},
		{"HeldLog", exerciseHeldLog},
		{"Claim", exerciseClaim},
		{"ClaimHandlerPrefix", exerciseClaimHandlerPrefix},
		{"Heartbeat", exerciseHeartbeat},
		{"Complete", exerciseComplete},
		{"CompleteClaim", exerciseCompleteClaim},
		{"Cancel", exerciseCancel},
		{"Rescue", exerciseRescue},
		{"Stats", exerciseStats},
		{"RunCounts", exerciseRunCounts},
		{"Nodes", exerciseNodes},
		{"NodeMarkDead", exerciseNodeMarkDead},
		{"Tokens", exerciseTokens},
		{"Sessions", exerciseSessions},
		{"Calendars", exerciseCalendars},
		{"Users", exerciseUsers},
		{"OIDC", exerciseOIDC},
		{"UserUpdateLink", exerciseUserUpdateLink},
		{"Audit", exerciseAudit},
		{"Lists", exerciseLists},
		{"Queues", exerciseQueues},
		{"Secrets", exerciseSecrets},
		{"KeyCheck", exerciseKeyCheck},
		{"Notify", exerciseNotify},
		{"Alerts", exerciseAlerts},
		{"AlertBatches", exerciseAlertBatches},
		{"Lifecycle", exerciseLifecycle},
		{"RunImport", exerciseRunImport},
		{"Chains", exerciseChains},
		{"Retention", exerciseRetention},
		{"Revisions", exerciseRevisions},
		{"Batches", exerciseBatches},
		{"JobLookup", exerciseJobLookup},
		{"RequestKey", exerciseRequestKey},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, newStore)
		})
	}
}

// t0 is the suite's "now": in the future (so no driver mistakes it for
// something the wall clock made) and with nanoseconds, which drivers drop.
var t0 = time.Date(2031, 3, 14, 9, 26, 53, 589793238, time.UTC)

// shanghai is a non-UTC zone for inputs: stores must return UTC.
var shanghai = time.FixedZone("CST", 8*60*60)

const (
	node1  = "node-1"
	node2  = "node-2"
	ttl    = 30 * time.Second
	waitUp = 5 * time.Second // how long a notification may take to arrive
)

// testJob returns a valid enabled job with every field set, so round trips
// cover them all.
func testJob(id string) *connecthub.Job {
	created := t0.Add(-time.Hour)
	return &connecthub.Job{
		ID:            id,
		Description:   "job " + id,
		Enabled:       true,
		CronExpr:      "*/5 * * * *",
		Timezone:      "Asia/Shanghai",
		Handler:       "noop",
		PublicCfg:     json.RawMessage(`{"k":"v"}`),
		SecretKeys:    []string{"password"},
		HasSecret:     true,
		SecretCfg:     "gAAAAAB-token-of-" + id,
		Timeout:       connecthub.Duration(90 * time.Second),
		MaxAttempts:   3,
		RetryBackoff:  connecthub.Duration(10 * time.Second),
		Concurrency:   connecthub.ConcurrencyAllow,
		Misfire:       connecthub.MisfireOnce,
		MisfireWindow: connecthub.DefaultMisfireWindow,
		Queue:         connecthub.DefaultQueue,
		Priority:      0,
		Calendar:      "cn",
		CalendarMode:  "workdays",
		KeepRuns:      7,
		KeepFor:       connecthub.Duration(30 * 24 * time.Hour),
		CreatedAt:     created,
		UpdatedAt:     created,
	}
}

func createJob(t *testing.T, s store.Store, j *connecthub.Job) *connecthub.Job {
	t.Helper()
	if err := s.JobCreate(t.Context(), j); err != nil {
		t.Fatalf("JobCreate(%s): %v", j.ID, err)
	}
	return j
}

// newJob creates a job with the given id, modified by the options.
func newJob(t *testing.T, s store.Store, id string, opts ...func(*connecthub.Job)) *connecthub.Job {
	t.Helper()
	j := testJob(id)
	for _, o := range opts {
		o(j)
	}
	return createJob(t, s, j)
}

// manualRun returns a QUEUED manual run of j created at now.
func manualRun(j *connecthub.Job, now time.Time) *connecthub.Run {
	return connecthub.NewRun(j, connecthub.TriggerManual, now, now, "tester")
}

// cronRun returns a QUEUED cron run of j for slot.
func cronRun(j *connecthub.Job, slot, now time.Time) *connecthub.Run {
	return connecthub.NewRun(j, connecthub.TriggerCron, slot, now, "")
}

func insertRuns(t *testing.T, s store.Store, runs ...*connecthub.Run) []*connecthub.Run {
	t.Helper()
	if err := s.RunInsert(t.Context(), runs); err != nil {
		t.Fatalf("RunInsert: %v", err)
	}
	for _, r := range runs {
		if r.ID == "" {
			t.Fatalf("RunInsert left a run without an id")
		}
	}
	return runs
}

// queuedRun inserts one manual run of j created at now and returns it.
func queuedRun(t *testing.T, s store.Store, j *connecthub.Job, now time.Time) *connecthub.Run {
	t.Helper()
	return insertRuns(t, s, manualRun(j, now))[0]
}

func getRun(t *testing.T, s store.Store, id string) *connecthub.Run {
	t.Helper()
	r, err := s.RunGet(t.Context(), id)
	if err != nil {
		t.Fatalf("RunGet(%s): %v", id, err)
	}
	return r
}

func getJob(t *testing.T, s store.Store, id string) *connecthub.Job {
	t.Helper()
	j, err := s.JobGet(t.Context(), id)
	if err != nil {
		t.Fatalf("JobGet(%s): %v", id, err)
	}
	return j
}

func claim(t *testing.T, s store.Store, p store.RunClaimParams) []*connecthub.Run {
	t.Helper()
	runs, err := s.RunClaim(t.Context(), claimDefaults(p))
	if err != nil {
		t.Fatalf("RunClaim: %v", err)
	}
	return runs
}

// heldQueues numbers the private queues of runningRun.
var heldQueues atomic.Int64

// runningRun inserts a manual run of j and claims it on node at now. The
// run gets a queue of its own, so that the claim takes exactly that run
// whatever else the test has queued.
func runningRun(t *testing.T, s store.Store, j *connecthub.Job, node string, now time.Time) *connecthub.Run {
	t.Helper()
	r := manualRun(j, now)
	r.Queue = fmt.Sprintf("held-%d", heldQueues.Add(1))
	insertRuns(t, s, r)
	got := claim(t, s, store.RunClaimParams{Node: node, Queues: []string{r.Queue}, Max: 1, Now: now})
	if len(got) != 1 || got[0].ID != r.ID {
		t.Fatalf("claiming run %s got %v", r.ID, ids(got))
	}
	return got[0]
}

func complete(t *testing.T, s store.Store, outcomes ...store.RunOutcome) []bool {
	t.Helper()
	applied, err := s.RunComplete(t.Context(), outcomes)
	if err != nil {
		t.Fatalf("RunComplete: %v", err)
	}
	if len(applied) != len(outcomes) {
		t.Fatalf("RunComplete returned %d results for %d outcomes", len(applied), len(outcomes))
	}
	return applied
}

func ids(runs []*connecthub.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

func jobIDs(jobs []*connecthub.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

// requireKind fails unless err is a *connecthub.Error of the given kind.
func requireKind(t *testing.T, err error, kind connecthub.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a %s error", kind)
	}
	var ce *connecthub.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want a *connecthub.Error of kind %s", err, err, kind)
	}
	if ce.Kind != kind {
		t.Fatalf("got a %s error (%v), want %s", ce.Kind, err, kind)
	}
}

// us is what a store keeps of a time: UTC, microseconds.
func us(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// checkTime fails unless got is want as stored: same instant at microsecond
// precision, in UTC.
func checkTime(t *testing.T, name string, want, got time.Time) {
	t.Helper()
	if !got.Equal(us(want)) {
		t.Errorf("%s = %s, want %s", name, got.Format(time.RFC3339Nano), us(want).Format(time.RFC3339Nano))
	}
	if got.Location() != time.UTC {
		t.Errorf("%s is in %s, want UTC", name, got.Location())
	}
}

// checkTimePtr is checkTime for optional times.
func checkTimePtr(t *testing.T, name string, want, got *time.Time) {
	t.Helper()
	switch {
	case want == nil && got == nil:
	case want == nil:
		t.Errorf("%s = %s, want nil", name, got.Format(time.RFC3339Nano))
	case got == nil:
		t.Errorf("%s = nil, want %s", name, us(*want).Format(time.RFC3339Nano))
	default:
		checkTime(t, name, *want, *got)
	}
}

func ptr[T any](v T) *T { return &v }

// checkJSON fails unless got and want are the same JSON value.
func checkJSON(t *testing.T, name string, want, got json.RawMessage) {
	t.Helper()
	if len(want) == 0 || len(got) == 0 {
		if len(want) != len(got) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
		return
	}
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: bad wanted JSON %q: %v", name, want, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s = %q, not JSON: %v", name, got, err)
		return
	}
	if !reflect.DeepEqual(w, g) {
		t.Errorf("%s = %s, want %s", name, got, want)
	}
}

func checkStrings(t *testing.T, name string, want, got []string) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func checkStatus(t *testing.T, s store.Store, id string, want connecthub.RunStatus) *connecthub.Run {
	t.Helper()
	r := getRun(t, s, id)
	if r.Status != want {
		t.Fatalf("run %s is %s, want %s", id, r.Status, want)
	}
	return r
}

// subscribe subscribes to topic for the rest of the test.
func subscribe(t *testing.T, s store.Store, topic store.Topic) <-chan struct{} {
	t.Helper()
	ch, unsubscribe := s.Subscribe(topic)
	t.Cleanup(unsubscribe)
	return ch
}

// waitNotified fails unless ch receives within waitUp.
func waitNotified(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	timer := time.NewTimer(waitUp)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		t.Fatalf("no notification after %s within %s", what, waitUp)
	}
}

// parallel runs the subtests of a table in parallel, each on a fresh store.
func parallel(t *testing.T, newStore NewStoreFunc, tests map[string]func(t *testing.T, s store.Store)) {
	t.Helper()
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newStore(t))
		})
	}
}

// CronFires returns the JobsFire call a scheduler makes when the slot prev
// of every job in jobs is due: one run each, concurrency forbid, the next
// slot at next. The drivers' benchmarks fire with it.
func CronFires(jobs []*connecthub.Job, prev, next time.Time) []store.JobFireParams {
	fires := make([]store.JobFireParams, len(jobs))
	for k, j := range jobs {
		fires[k] = store.JobFireParams{JobID: j.ID, PrevNextRunAt: prev, NextRunAt: &next, LastRunAt: &prev,
			Concurrency: connecthub.ConcurrencyForbid, Now: prev,
			Runs: []*connecthub.Run{connecthub.NewRun(j, connecthub.TriggerCron, prev, prev, "")}}
	}
	return fires
}
