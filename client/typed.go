package client

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/connecthub/connecthub"
)

// The typed API groups the calls by resource (c.Jobs, c.Runs,
// c.Revisions, c.Notifications, c.Batches) and takes filters as structs
// rather than url.Values, so that a Go program cannot misspell a query
// parameter. The flat methods (c.ListJobs, c.GetRun …) stay: both reach
// the same endpoints.

// Page selects one page of a list. A zero Limit is the server's default
// page size (50; at most 500), an empty Cursor the first page; the next
// page's cursor is the NextCursor of the page before.
type Page struct {
	Limit  int
	Cursor string
}

func (p Page) values() url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	setIf(q, "cursor", p.Cursor)
	return q
}

// with is the page's query and the filter's parameters, given as name,
// value pairs; an empty value is left out, as the API reads a missing
// parameter as "any".
func (p Page) with(kv ...string) url.Values {
	q := p.values()
	for i := 0; i+1 < len(kv); i += 2 {
		setIf(q, kv[i], kv[i+1])
	}
	return q
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// JobFilter selects jobs: Query searches ids and descriptions, Handler
// names one handler, Enabled is "true", "false" or "" for both (the server
// rejects anything else with a 400 naming the field).
type JobFilter struct {
	Query, Handler, Enabled string
	Page
}

// JobsAPI lists jobs with typed filters.
type JobsAPI struct{ c *Client }

// List returns one page of the jobs f selects, by id.
func (a JobsAPI) List(ctx context.Context, f JobFilter) (*JobList, error) {
	return a.c.ListJobs(ctx, f.Page.with("q", f.Query, "handler", f.Handler, "enabled", f.Enabled))
}

// All returns every job f selects, reading page after page of the
// largest size (f.Limit and f.Cursor are ignored): for exports and
// comparisons, which need the whole set.
func (a JobsAPI) All(ctx context.Context, f JobFilter) ([]connecthub.Job, error) {
	var out []connecthub.Job
	f.Page = Page{Limit: 500}
	for {
		page, err := a.List(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Jobs...)
		if page.NextCursor == "" {
			return out, nil
		}
		f.Cursor = page.NextCursor
	}
}

// RunFilter selects runs: of one job, of some statuses (comma-separated,
// e.g. "FAILURE,CANCELED"), of one trigger (cron, manual, retry, api).
type RunFilter struct {
	JobID, Status, Trigger string
	Page
}

// RunsAPI lists runs, acts on many at once and waits for one to start.
type RunsAPI struct{ c *Client }

// List returns one page of the runs f selects, newest first.
func (a RunsAPI) List(ctx context.Context, f RunFilter) (*RunList, error) {
	return a.c.ListRuns(ctx, f.Page.with("job_id", f.JobID, "status", f.Status, "trigger", f.Trigger))
}

// Bulk applies action (connecthub.BulkRetry, BulkCancel or BulkDelete) to
// the runs req selects; see Client.RunBulk.
func (a RunsAPI) Bulk(ctx context.Context, action string, req connecthub.BulkRunRequest) (*connecthub.BulkRunResult, error) {
	return a.c.RunBulk(ctx, action, req)
}

// WaitStarted returns r once a worker took it (or it ended without one:
// canceled or skipped), reading it again every poll while it is QUEUED.
// A run that is not queued is returned as it is, without a request.
func (a RunsAPI) WaitStarted(ctx context.Context, r *connecthub.Run, poll time.Duration) (*connecthub.Run, error) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for r.Status == connecthub.StatusQueued {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		var err error
		if r, err = a.c.GetRun(ctx, r.ID); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// RevisionsAPI pages through job revisions and deleted jobs.
type RevisionsAPI struct{ c *Client }

// List returns one page of a job's revisions, newest first (a deleted
// job's too).
func (a RevisionsAPI) List(ctx context.Context, jobID string, p Page) (*RevisionList, error) {
	return a.c.ListRevisions(ctx, jobID, p.values())
}

// Deleted returns one page of the deleted jobs that revisions can
// restore.
func (a RevisionsAPI) Deleted(ctx context.Context, p Page) (*DeletedJobList, error) {
	return a.c.ListDeletedJobs(ctx, p.values())
}

// NotificationFilter selects entries of the delivery log; Status is
// pending, sent or failed. A zero Limit is the server's default.
type NotificationFilter struct {
	Channel, Event, Status, JobID string
	Limit                         int
}

// NotificationsAPI reads the delivery log and waits for a delivery.
type NotificationsAPI struct{ c *Client }

// List returns the newest entries of the delivery log that f selects.
func (a NotificationsAPI) List(ctx context.Context, f NotificationFilter) (*NotificationList, error) {
	q := Page{Limit: f.Limit}.with("channel", f.Channel, "event", f.Event, "status", f.Status, "job_id", f.JobID)
	return a.c.ListNotifications(ctx, q)
}

// WaitAttempt returns n once the server made its first delivery attempt
// (it is no longer pending, or has an attempt in its history), reading it
// every poll. After wait it returns n as last read, still pending: the
// caller tells "not sent yet" from "refused" by its Status and History.
func (a NotificationsAPI) WaitAttempt(ctx context.Context, n *connecthub.Notification, wait, poll time.Duration) (*connecthub.Notification, error) {
	deadline := time.Now().Add(wait)
	for n.Status == connecthub.DeliveryPending && len(n.History) == 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
		var err error
		if n, err = a.c.GetNotification(ctx, n.ID); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// BatchesAPI plans, applies and lists batches of job definitions.
type BatchesAPI struct{ c *Client }

// List returns one page of batches, newest first.
func (a BatchesAPI) List(ctx context.Context, p Page) (*BatchList, error) {
	return a.c.ListBatches(ctx, p.Limit, p.Cursor)
}

// Plan asks the server what applying req would change, field by field,
// changing nothing (req.DryRun is set on a copy).
func (a BatchesAPI) Plan(ctx context.Context, req connecthub.BatchApplyRequest) (*connecthub.BatchApplyResult, error) {
	req.DryRun = true
	return a.c.ApplyBatch(ctx, &req)
}

// Apply applies req's documents in one batch, all or nothing (req.DryRun
// is cleared on a copy), and returns what it did.
func (a BatchesAPI) Apply(ctx context.Context, req connecthub.BatchApplyRequest) (*connecthub.BatchApplyResult, error) {
	req.DryRun = false
	return a.c.ApplyBatch(ctx, &req)
}
