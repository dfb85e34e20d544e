// Package metrics exposes ConnectHub's state-derived gauges (queue depth,
// oldest queued age, jobs; the nodes' gauge is the node registry's) to Prometheus. Counters and histograms of runs and
// of the scheduler live with the code that observes them (each package's
// metrics.go, built from an injected prometheus.Registerer).
package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connecthub/connecthub"
)

// StatsSource is what the collector reads at scrape time.
type StatsSource interface {
	Stats(ctx context.Context, now time.Time) (*connecthub.Stats, error)
}

// DefaultStatsTTL is how long a StatsCollector reuses what it read: a
// replica reads the database at most once per this period however often
// it is scraped (by several Prometheus servers, or by hand), and a
// Prometheus scraping every 15 s reads it on every scrape.
const DefaultStatsTTL = 5 * time.Second

// StatsCollector reads the queue's state from the database at scrape time,
// so every replica reports the same numbers and nothing has to be kept in
// sync in memory. What it reads (Stats: the maintained counts and the
// active set, never the history) is reused for TTL, so that scrapes cost
// the database at most one read per TTL.
type StatsCollector struct {
	src     StatsSource
	queues  []string
	timeout time.Duration
	// TTL is how long a read is reused; DefaultStatsTTL unless set before
	// the first scrape. 0 reads at every scrape.
	TTL time.Duration
	// Now is the clock of the cache and of Stats; time.Now unless set
	// before the first scrape.
	Now func() time.Time

	mu     sync.Mutex
	cached *connecthub.Stats
	readAt time.Time

	depth, oldest, jobs, runs, up *prometheus.Desc
}

// NewStatsCollector returns a collector over src. The queues are always
// reported, at 0 when empty, so that alerts on them do not go silent.
func NewStatsCollector(src StatsSource, queues []string) *StatsCollector {
	return &StatsCollector{
		src:     src,
		queues:  queues,
		timeout: 5 * time.Second,
		TTL:     DefaultStatsTTL,
		Now:     time.Now,
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
	s, err := c.read()
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

// read returns the stats read less than TTL ago, or reads them. A failed
// read is not cached: the next scrape tries again.
func (c *StatsCollector) read() (*connecthub.Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	if c.cached != nil && now.Sub(c.readAt) < c.TTL && !now.Before(c.readAt) {
		return c.cached, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.src.Stats(ctx, now)
	if err != nil {
		c.cached = nil
		return nil, err
	}
	c.cached, c.readAt = s, now
	return s, nil
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
