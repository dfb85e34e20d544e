package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/connecthub/connecthub"
)

// BatchItem is one job a batch touched, with the fields that changed.
type BatchItem struct {
	connecthub.BatchItem
	Changes []connecthub.AuditChange `json:"changes"`
}

// Batch is a batch as the API shows it; Items only when read by id.
type Batch struct {
	connecthub.Batch
	Items []BatchItem `json:"items,omitempty"`
}

// Plan is what the batch did as a plan reads (connecthub.BatchApplyResult's
// Plan): each job it touched, the action and the fields that changed.
func (b *Batch) Plan() []connecthub.BatchPlanItem {
	plan := make([]connecthub.BatchPlanItem, len(b.Items))
	for i, it := range b.Items {
		plan[i] = connecthub.BatchPlanItem{JobID: it.JobID, Action: it.Op, Changes: it.Changes}
	}
	return plan
}

// BatchList is a page of batches, newest first.
type BatchList struct {
	Batches    []connecthub.Batch `json:"batches"`
	NextCursor string             `json:"next_cursor"`
}

// ListBatches lists batches, newest first; cursor "" for the first page.
func (c *Client) ListBatches(ctx context.Context, limit int, cursor string) (*BatchList, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out BatchList
	return &out, c.do(ctx, http.MethodGet, "/api/v1/batches", q, nil, &out)
}

// GetBatch returns a batch with the jobs it touched.
func (c *Client) GetBatch(ctx context.Context, id int64) (*Batch, error) {
	var out Batch
	return &out, c.do(ctx, http.MethodGet, "/api/v1/batches/"+strconv.FormatInt(id, 10), nil, nil, &out)
}

// ApplyBatch plans (req.DryRun) or applies a set of job definitions in
// one batch: all or nothing.
func (c *Client) ApplyBatch(ctx context.Context, req *connecthub.BatchApplyRequest) (*connecthub.BatchApplyResult, error) {
	var out connecthub.BatchApplyResult
	return &out, c.do(ctx, http.MethodPost, "/api/v1/batches", nil, req, &out)
}

// RollbackBatch restores the jobs a batch touched to their state before
// it, as a new batch; a conflict (409) names the jobs changed since.
func (c *Client) RollbackBatch(ctx context.Context, id int64) (*Batch, error) {
	var out Batch
	return &out, c.do(ctx, http.MethodPost, "/api/v1/batches/"+strconv.FormatInt(id, 10)+"/rollback", nil, nil, &out)
}
