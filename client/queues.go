package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/connecthub/connecthub"
)

// Queue is a queue as GET /api/v1/queues shows it.
type Queue struct {
	connecthub.QueueStats
	Pause *connecthub.PausedQueue `json:"pause,omitempty"`
}

// ListQueues lists the queues with waiting runs or paused, by name.
func (c *Client) ListQueues(ctx context.Context) ([]Queue, error) {
	var out struct {
		Queues []Queue `json:"queues"`
	}
	return out.Queues, c.do(ctx, http.MethodGet, "/api/v1/queues", nil, nil, &out)
}

// SetQueuePaused pauses or resumes a queue and reports whether it changed.
func (c *Client) SetQueuePaused(ctx context.Context, name string, paused bool) (bool, error) {
	action := "resume"
	if paused {
		action = "pause"
	}
	var out struct {
		Changed bool `json:"changed"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/queues/"+url.PathEscape(name)+"/"+action, nil, nil, &out)
	return out.Changed, err
}
