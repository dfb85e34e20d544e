package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/connecthub/connecthub"
)

// RevisionList is a page of a job's revisions, newest first.
type RevisionList struct {
	Revisions  []connecthub.Revision `json:"revisions"`
	NextCursor string                `json:"next_cursor"`
}

// DeletedJobList is a page of deleted jobs that have revisions.
type DeletedJobList struct {
	Jobs       []connecthub.DeletedJob `json:"jobs"`
	NextCursor string                  `json:"next_cursor"`
}

func revisionPath(id string, n int) string {
	return "/api/v1/jobs/" + url.PathEscape(id) + "/revisions/" + strconv.Itoa(n)
}

// ListRevisions returns a page of a job's revisions (query: limit, cursor).
func (c *Client) ListRevisions(ctx context.Context, id string, query url.Values) (*RevisionList, error) {
	var out RevisionList
	return &out, c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id)+"/revisions", query, nil, &out)
}

// GetRevision returns revision n of a job.
func (c *Client) GetRevision(ctx context.Context, id string, n int) (*connecthub.Revision, error) {
	var out connecthub.Revision
	return &out, c.do(ctx, http.MethodGet, revisionPath(id, n), nil, nil, &out)
}

// DiffRevisions compares revisions a and b of a job field by field.
func (c *Client) DiffRevisions(ctx context.Context, id string, a, b int) (*connecthub.RevisionDiff, error) {
	var out connecthub.RevisionDiff
	return &out, c.do(ctx, http.MethodGet, revisionPath(id, a)+"/diff/"+strconv.Itoa(b), nil, nil, &out)
}

// RestoreRevision makes revision n the job's definition again (secrets
// included), re-creating a deleted job.
func (c *Client) RestoreRevision(ctx context.Context, id string, n int) (*SavedJob, error) {
	var out SavedJob
	return &out, c.do(ctx, http.MethodPost, revisionPath(id, n)+"/restore", nil, nil, &out)
}

// ListDeletedJobs returns a page of deleted jobs that can be restored.
func (c *Client) ListDeletedJobs(ctx context.Context, query url.Values) (*DeletedJobList, error) {
	var out DeletedJobList
	return &out, c.do(ctx, http.MethodGet, "/api/v1/deleted-jobs", query, nil, &out)
}
