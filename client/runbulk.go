package client

import (
	"context"
	"net/http"

	"github.com/connecthub/connecthub"
)

// RunBulk applies action (connecthub.BulkRetry, BulkCancel or BulkDelete)
// to the runs req selects and returns each run's outcome. A dry run
// (req.DryRun) changes nothing and returns Matched, which a real call
// passes back as req.Expect.
func (c *Client) RunBulk(ctx context.Context, action string, req connecthub.BulkRunRequest) (*connecthub.BulkRunResult, error) {
	var out connecthub.BulkRunResult
	if err := c.do(ctx, http.MethodPost, "/api/v1/runs/bulk/"+action, nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
