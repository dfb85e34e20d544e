package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/connecthub/connecthub"
)

// ListNodes returns the registered nodes, ordered by name.
func (c *Client) ListNodes(ctx context.Context) ([]connecthub.Node, error) {
	var out struct {
		Nodes []connecthub.Node `json:"nodes"`
	}
	return out.Nodes, c.do(ctx, http.MethodGet, "/api/v1/nodes", nil, nil, &out)
}

// CleanNodes deletes the inactive nodes silent for longer than olderThan
// (0 = the server's default, 24h) and returns how many it deleted.
func (c *Client) CleanNodes(ctx context.Context, olderThan time.Duration) (int64, error) {
	var body any
	if olderThan > 0 {
		body = map[string]string{"older_than": olderThan.String()}
	}
	var out struct {
		Deleted int64 `json:"deleted"`
	}
	return out.Deleted, c.do(ctx, http.MethodPost, "/api/v1/nodes/clean", nil, body, &out)
}

// StopNode asks a node to stop claiming runs (its runs in flight finish);
// the node applies it at its next keepalive. It returns the node.
func (c *Client) StopNode(ctx context.Context, name string) (*connecthub.Node, error) {
	var out connecthub.Node
	return &out, c.do(ctx, http.MethodPost, "/api/v1/nodes/"+url.PathEscape(name)+"/stop", nil, nil, &out)
}

// StartNode undoes StopNode. It returns the node.
func (c *Client) StartNode(ctx context.Context, name string) (*connecthub.Node, error) {
	var out connecthub.Node
	return &out, c.do(ctx, http.MethodPost, "/api/v1/nodes/"+url.PathEscape(name)+"/start", nil, nil, &out)
}

// SDTargetGroup is one target group of Prometheus HTTP service discovery.
type SDTargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// PrometheusSD returns the active nodes' metrics endpoints, as Prometheus
// reads them from GET /api/v1/sd/prometheus.
func (c *Client) PrometheusSD(ctx context.Context) ([]SDTargetGroup, error) {
	var out []SDTargetGroup
	return out, c.do(ctx, http.MethodGet, "/api/v1/sd/prometheus", nil, nil, &out)
}
