package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the worker's Prometheus metrics. A nil *metrics (no
// Registerer) records nothing.
//
//   - connecthub_runs_total{job,status,trigger} counts finished attempts by
//     outcome: SUCCESS, FAILURE, CANCELED, or RETRY for a failed attempt that
//     was re-queued. Hand-backs on shutdown and attempts whose lease was lost
//     are not counted: they did not end the attempt on this node.
//   - connecthub_run_duration_seconds{job} is how long handlers ran.
type metrics struct {
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "connecthub_runs_total",
		Help: "Finished run attempts by job, outcome (SUCCESS, FAILURE, CANCELED, RETRY) and trigger.",
	}, []string{"job", "status", "trigger"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "connecthub_run_duration_seconds",
		Help: "How long run handlers ran, by job.",
		// From no-op runs to hour-long syncs.
		Buckets: []float64{.001, .005, .025, .1, .5, 1, 5, 15, 60, 300, 900, 3600},
	}, []string{"job"})
	var err error
	if runs, err = register(reg, runs); err != nil {
		return nil, err
	}
	if duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	return &metrics{runs: runs, duration: duration}, nil
}

// register registers c, or returns the collector already registered under
// the same name, so that several workers in one process (or a worker that
// is rebuilt) share their metrics instead of failing.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		var zero C
		return zero, fmt.Errorf("worker metrics: %w", err)
	}
	return c, nil
}

func (m *metrics) countRun(job, status, trigger string) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(job, status, trigger).Inc()
}

func (m *metrics) observeDuration(job string, d time.Duration) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(job).Observe(d.Seconds())
}
