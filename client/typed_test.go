package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/notify/notifytest"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/testenv"
)

const adminToken = "client-test-admin-token-0123456789"

// startServer runs a real node (SQLite in a temporary directory, one
// worker) on a random port of 127.0.0.1 until the test ends, and returns a
// client of it.
func startServer(t *testing.T, workers int) *client.Client {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DBURL, cfg.FernetKeyPath = "", ""
	cfg.WithDefaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.Workers = workers
	cfg.AdminToken = config.Secret(adminToken)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reg := handler.NewRegistry()
	if err := builtin.Register(reg, builtin.Options{}); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	srv, err := server.New(t.Context(), cfg, server.Options{Handlers: reg, LogOutput: logs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("the server did not stop")
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("the server stopped before it was ready: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the server never became ready:\n%s", logs.String())
	}
	c, err := client.New("http://"+srv.Addr(), adminToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createJob(t *testing.T, c *client.Client, body string) {
	t.Helper()
	if _, err := c.CreateJob(t.Context(), json.RawMessage(body)); err != nil {
		t.Fatalf("create %s: %v", body, err)
	}
}

// ids is the sorted ids of jobs as one string, for comparisons.
func ids(jobs []connecthub.Job) string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

// TestJobsAPI: List sends each filter field as the API's parameter and
// pages by Limit and Cursor; All reads every page; a bad filter value is
// the server's 400 naming the field.
func TestJobsAPI(t *testing.T) {
	t.Parallel()
	c := startServer(t, 0)
	for i := range 5 {
		createJob(t, c, fmt.Sprintf(`{"id":"sdk.j%d","handler":"noop","description":"job %d"}`, i, i))
	}
	createJob(t, c, `{"id":"sdk.sleepy","handler":"sleep","enabled":false,"description":"invoices"}`)
	for _, tc := range []struct {
		name string
		f    client.JobFilter
		want string
	}{
		{"all", client.JobFilter{}, "[sdk.j0 sdk.j1 sdk.j2 sdk.j3 sdk.j4 sdk.sleepy]"},
		{"query", client.JobFilter{Query: "invoices"}, "[sdk.sleepy]"},
		{"handler", client.JobFilter{Handler: "noop", Page: client.Page{Limit: 2}}, "[sdk.j0 sdk.j1]"},
		{"enabled", client.JobFilter{Enabled: "false"}, "[sdk.sleepy]"},
	} {
		page, err := c.Jobs.List(t.Context(), tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ids(page.Jobs); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	first, err := c.Jobs.List(t.Context(), client.JobFilter{Page: client.Page{Limit: 4}})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	second, err := c.Jobs.List(t.Context(), client.JobFilter{Page: client.Page{Limit: 4, Cursor: first.NextCursor}})
	if err != nil || ids(second.Jobs) != "[sdk.j4 sdk.sleepy]" {
		t.Fatalf("second page: %v %s", err, ids(second.Jobs))
	}
	all, err := c.Jobs.All(t.Context(), client.JobFilter{Handler: "noop"})
	if err != nil || ids(all) != "[sdk.j0 sdk.j1 sdk.j2 sdk.j3 sdk.j4]" {
		t.Fatalf("All: %v %s", err, ids(all))
	}
	_, err = c.Jobs.List(t.Context(), client.JobFilter{Enabled: "maybe"})
	if api, ok := err.(*client.APIError); !ok || api.Status != 400 || api.Field != "enabled" {
		t.Errorf("enabled=maybe: %v, want a 400 naming enabled", err)
	}
}

// TestRunsAPI: WaitStarted returns a queued run once the worker took it;
// List filters by job and status; Bulk previews and then cancels.
func TestRunsAPI(t *testing.T) {
	t.Parallel()
	c := startServer(t, 1)
	createJob(t, c, `{"id":"sdk.run","handler":"noop"}`)
	createJob(t, c, `{"id":"sdk.other","handler":"noop","queue":"nobody"}`)
	r, err := c.RunJob(t.Context(), "sdk.run")
	if err != nil {
		t.Fatal(err)
	}
	started, err := c.Runs.WaitStarted(t.Context(), r, 10*time.Millisecond)
	if err != nil || started.Status == connecthub.StatusQueued || started.ID != r.ID {
		t.Fatalf("WaitStarted: %v %+v", err, started)
	}
	waiting, err := c.RunJob(t.Context(), "sdk.other") // no worker serves its queue
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Runs.WaitStarted(ctx, waiting, 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitStarted of a run no worker takes: %v, want the context's deadline", err)
	}
	page, err := c.Runs.List(t.Context(), client.RunFilter{JobID: "sdk.other", Status: "QUEUED,RUNNING"})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].ID != waiting.ID {
		t.Fatalf("List: %v %+v", err, page)
	}
	if page, err = c.Runs.List(t.Context(), client.RunFilter{JobID: "sdk.run", Trigger: "cron"}); err != nil || len(page.Runs) != 0 {
		t.Fatalf("List of cron runs: %v %+v", err, page)
	}
	req := connecthub.BulkRunRequest{Filter: connecthub.BulkRunFilter{JobID: "sdk.other"}, DryRun: true}
	preview, err := c.Runs.Bulk(t.Context(), connecthub.BulkCancel, req)
	if err != nil || preview.Matched != 1 || preview.OK != 1 {
		t.Fatalf("Bulk preview: %v %+v", err, preview)
	}
	req.DryRun, req.Expect = false, &preview.Matched
	if res, err := c.Runs.Bulk(t.Context(), connecthub.BulkCancel, req); err != nil || res.OK != 1 || !res.Complete {
		t.Fatalf("Bulk cancel: %v %+v", err, res)
	}
	if got, err := c.GetRun(t.Context(), waiting.ID); err != nil || got.Status != connecthub.StatusCanceled {
		t.Fatalf("the bulk-cancelled run: %v %+v", err, got)
	}
}

// TestRevisionsAndBatchesAPI: a plan changes nothing, an apply creates the
// job as a batch that List shows; the job's revisions and, once it is
// deleted, the deleted jobs page through Page.
func TestRevisionsAndBatchesAPI(t *testing.T) {
	t.Parallel()
	c := startServer(t, 0)
	req := connecthub.BatchApplyRequest{Documents: []connecthub.BatchDocument{{Job: json.RawMessage(`{"id":"sdk.b","handler":"noop"}`)}}}
	plan, err := c.Batches.Plan(t.Context(), req)
	if err != nil || !plan.Changed() || plan.Batch != nil {
		t.Fatalf("Plan: %v %+v", err, plan)
	}
	if _, err := c.GetJob(t.Context(), "sdk.b"); err == nil {
		t.Fatal("a plan created the job")
	}
	res, err := c.Batches.Apply(t.Context(), req)
	if err != nil || res.Batch == nil {
		t.Fatalf("Apply: %v %+v", err, res)
	}
	batches, err := c.Batches.List(t.Context(), client.Page{Limit: 1})
	if err != nil || len(batches.Batches) != 1 || batches.Batches[0].ID != res.Batch.ID {
		t.Fatalf("Batches.List: %v %+v", err, batches)
	}
	b, err := c.GetBatch(t.Context(), res.Batch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p := b.Plan(); len(p) != 1 || p[0].JobID != "sdk.b" || p[0].Action != connecthub.BatchCreate || len(p[0].Changes) == 0 {
		t.Errorf("the batch's Plan: %+v, want sdk.b created with its fields", p)
	}
	for _, d := range []string{"one", "two"} {
		if _, err := c.UpdateJob(t.Context(), "sdk.b", json.RawMessage(`{"description":"`+d+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	revs, err := c.Revisions.List(t.Context(), "sdk.b", client.Page{Limit: 2})
	if err != nil || len(revs.Revisions) != 2 || revs.Revisions[0].Revision != 3 || revs.NextCursor == "" {
		t.Fatalf("Revisions.List: %v %+v", err, revs)
	}
	rest, err := c.Revisions.List(t.Context(), "sdk.b", client.Page{Cursor: revs.NextCursor})
	if err != nil || len(rest.Revisions) != 1 || rest.Revisions[0].Revision != 1 {
		t.Fatalf("Revisions.List, second page: %v %+v", err, rest)
	}
	if err := c.DeleteJob(t.Context(), "sdk.b"); err != nil {
		t.Fatal(err)
	}
	deleted, err := c.Revisions.Deleted(t.Context(), client.Page{})
	if err != nil || len(deleted.Jobs) != 1 || deleted.Jobs[0].JobID != "sdk.b" {
		t.Fatalf("Revisions.Deleted: %v %+v", err, deleted)
	}
}

// TestNotificationsAPI: WaitAttempt returns a test message once the
// receiver answered; List filters the log by channel and status.
func TestNotificationsAPI(t *testing.T) {
	t.Parallel()
	ding := notifytest.DingTalk(t, "tok", "SEC-sdk")
	c := startServer(t, 0)
	for name, secret := range map[string]string{"good": "SEC-sdk", "bad": "SEC-wrong"} {
		body := `{"name":"` + name + `","type":"dingtalk","url":"` + ding.URL + `/robot/send?access_token=tok","secret":"` + secret + `"}`
		if _, err := c.CreateChannel(t.Context(), json.RawMessage(body)); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{"good": connecthub.DeliverySent, "bad": connecthub.DeliveryPending} {
		n, err := c.TestChannel(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		n, err = c.Notifications.WaitAttempt(t.Context(), n, 30*time.Second, 20*time.Millisecond)
		if err != nil || n.Status != want || len(n.History) == 0 {
			t.Fatalf("%s: WaitAttempt: %v %+v, want %s after an attempt", name, err, n, want)
		}
	}
	page, err := c.Notifications.List(t.Context(), client.NotificationFilter{Channel: "good", Status: connecthub.DeliverySent, Limit: 5})
	if err != nil || len(page.Notifications) != 1 || page.Notifications[0].Channel != "good" {
		t.Fatalf("List: %v %+v", err, page)
	}
	if page, err = c.Notifications.List(t.Context(), client.NotificationFilter{Channel: "bad", Status: connecthub.DeliverySent}); err != nil || len(page.Notifications) != 0 {
		t.Fatalf("List of sent to bad: %v %+v", err, page)
	}
}

// TestRunsFollow follows a run from its queue to its end: Seen sees it
// first, Started once a worker took it, its log reaches the writer, which
// is closed before Follow returns the run as it ended (failed, here).
func TestRunsFollow(t *testing.T) {
	t.Parallel()
	c := startServer(t, 1)
	// A call to a closed port: it logs the request, then fails.
	createJob(t, c, `{"id":"sdk.follow","handler":"httpcall","public_cfg":{"url":"http://127.0.0.1:1/"}}`)
	r, err := c.RunJob(t.Context(), "sdk.follow")
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	log := &closeRecorder{}
	final, err := c.Runs.Follow(t.Context(), r.ID, client.RunFollow{Poll: 10 * time.Millisecond,
		Seen: func(seen *connecthub.Run) io.Writer {
			events = append(events, "seen "+seen.ID)
			return log
		},
		Started: func(s *connecthub.Run) { events = append(events, "started on "+s.Node) },
	})
	if err != nil || final.Status != connecthub.StatusFailure || final.Duration == nil || final.ID != r.ID {
		t.Fatalf("Follow: %v %+v", err, final)
	}
	if len(events) != 2 || events[0] != "seen "+r.ID || events[1] == "started on " {
		t.Errorf("Follow told %q, want the run seen, then started on a node", events)
	}
	if !log.closed || log.Len() == 0 {
		t.Errorf("the log writer got %q, closed %v: want the run's log, then closed", log.String(), log.closed)
	}
	if _, err := c.Runs.Follow(t.Context(), "no-such-run", client.RunFollow{}); err == nil {
		t.Error("Follow of an unknown run: no error")
	}
}

// closeRecorder is a log writer that remembers being closed.
type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (w *closeRecorder) Close() error {
	w.closed = true
	return nil
}
