package node

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// presentStates are every value of present_state, reported even at 0 so
// that an alert on, say, inactive nodes does not go silent when there are
// none.
var presentStates = []string{
	connecthub.NodeActivating, connecthub.NodeActive, connecthub.NodeDeactivating, connecthub.NodeInactive,
}

// collector exports connecthub_nodes{state}. It reads the registry at scrape
// time rather than keeping counts in memory, so every replica reports the
// same numbers, including nodes that registered with another replica.
type collector struct {
	st      store.NodeStore
	timeout time.Duration
	nodes   *prometheus.Desc
}

func newCollector(st store.NodeStore) *collector {
	return &collector{
		st:      st,
		timeout: 5 * time.Second,
		nodes:   prometheus.NewDesc("connecthub_nodes", "Registered nodes by present state.", []string{"state"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.nodes }

// Collect implements prometheus.Collector. When the registry cannot be read
// it reports nothing rather than zeros, which would look like every node
// vanished; connecthub_db_up tells why.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	nodes, err := c.st.NodeList(ctx)
	if err != nil {
		return
	}
	counts := make(map[string]int, len(presentStates))
	for _, n := range nodes {
		counts[n.PresentState]++
	}
	for _, s := range presentStates {
		ch <- prometheus.MustNewConstMetric(c.nodes, prometheus.GaugeValue, float64(counts[s]), s)
	}
}
