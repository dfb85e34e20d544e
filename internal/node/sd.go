package node

import (
	"context"
	"maps"
	"net"
	"strconv"

	"github.com/connecthub/connecthub"
)

// SDTarget is one target group of Prometheus's HTTP service discovery
// (https://prometheus.io/docs/prometheus/latest/http_sd/): the addresses to
// scrape and the labels to attach to them. PrometheusSD returns one group
// per node, because the labels differ from node to node.
type SDTarget struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// PrometheusSD returns the metrics endpoints of the active nodes, ordered by
// node name. A node's target is the host of its endpoint with its
// metrics_port, or the endpoint's own port when metrics_port is 0 (a
// `connecthub serve` serves /metrics on its API port). Nodes without an
// endpoint cannot be scraped and are left out, as are nodes that are not
// active: a dead node's target would only raise scrape errors. The labels
// are the node's own labels plus "node" (its name) and "kind".
//
// The result is never nil: Prometheus requires an empty list, not null,
// when there is nothing to scrape.
func (r *Registry) PrometheusSD(ctx context.Context) ([]SDTarget, error) {
	nodes, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]SDTarget, 0, len(nodes))
	for _, n := range nodes {
		if n.PresentState != connecthub.NodeActive || n.Endpoint == "" {
			continue
		}
		host, port, err := splitEndpoint(n.Endpoint)
		if err != nil {
			// Registration validates endpoints, so this is a row written
			// by something else; skipping it keeps discovery working.
			r.log.WarnContext(ctx, "node endpoint unusable for service discovery", "node", n.Name, "endpoint", n.Endpoint, "err", err)
			continue
		}
		if n.MetricsPort > 0 {
			port = n.MetricsPort
		}
		labels := make(map[string]string, len(n.Labels)+2)
		maps.Copy(labels, n.Labels)
		labels["node"] = n.Name
		labels["kind"] = n.Kind
		out = append(out, SDTarget{
			Targets: []string{net.JoinHostPort(host, strconv.Itoa(port))},
			Labels:  labels,
		})
	}
	return out, nil
}
