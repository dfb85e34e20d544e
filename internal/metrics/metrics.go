// Package metrics exposes ConnectHub's state-derived gauges (queue depth,
// oldest queued age, jobs) to Prometheus. Counters and histograms of runs and
// of the scheduler live with the code that observes them (each package's
// metrics.go, built from an injected prometheus.Registerer).
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
)

// StatsSource is what the collector reads at scrape time.
type StatsSource interface {
	Stats(ctx context.Context, now time.Time) (*connecthub.Stats, error)
}

// StatsCollector reads the queue's state from the database at each scrape,
// so every replica reports the same numbers and nothing has to be kept in
// sync in memory.
type StatsCollector struct {
	src     StatsSource
	queues  []string
	timeout time.Duration

	depth, oldest, jobs, runs, up *prometheus.Desc
}

// NewStatsCollector returns a collector over src. The queues are always
// reported, at 0 when empty, so that alerts on them do not go silent.
func NewStatsCollector(src StatsSource, queues []string) *StatsCollector {
	return &StatsCollector{
		src:     src,
		queues:  queues,
		timeout: 5 * time.Second,
		depth:   prometheus.NewDesc("connecthub_queue_depth", "Runs waiting in the queue (QUEUED).", []string{"queue"}, nil),
		oldest:  prometheus.NewDesc("connecthub_queue_oldest_age_seconds", "Age of the oldest QUEUED run.", []string{"queue"}, nil),
		jobs:    prometheus.NewDesc("connecthub_jobs", "Job definitions by enabled state.", []string{"enabled"}, nil),
		runs:    prometheus.NewDesc("connecthub_runs", "Runs in the database by status.", []string{"status"}, nil),
		up:      prometheus.NewDesc("connecthub_db_up", "1 if the last stats query succeeded.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.oldest, c.jobs, c.runs, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StatsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.src.Stats(ctx, time.Now())
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	seen := make(map[string]bool, len(s.Queues))
	for _, q := range s.Queues {
		seen[q.Queue] = true
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.Depth), q.Queue)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, q.OldestAgeSecond, q.Queue)
	}
	for _, q := range c.queues {
		if !seen[q] {
			seen[q] = true
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, 0, q)
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, 0, q)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(s.JobsEnabled), "true")
	ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(s.Jobs-s.JobsEnabled), "false")
	for _, st := range connecthub.AllStatuses {
		ch <- prometheus.MustNewConstMetric(c.runs, prometheus.GaugeValue, float64(s.Runs[st]), string(st))
	}
}

// ConnectionCounter is a store that can say how many database connections
// it uses right now.
type ConnectionCounter interface {
	ConnectionsInUse() int
}

// NewConnectionsGauge returns connecthub_db_connections_active, read from
// the store at scrape time.
func NewConnectionsGauge(c ConnectionCounter) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "connecthub_db_connections_active",
		Help: "Database connections in use by this process.",
	}, func() float64 { return float64(c.ConnectionsInUse()) })
}
