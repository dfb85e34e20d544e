package scheduler

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scheduler's Prometheus collectors. They always exist, so
// the code that updates them needs no nil checks; they are exported only
// when Config.Metrics is set.
type metrics struct {
	// fireDelay is the time from a slot to the pass that inserted its run:
	// milliseconds when healthy, the downtime when catching up.
	fireDelay prometheus.Histogram
	// passErrors counts passes that failed (typically the database being
	// unreachable), for alerting on a scheduler that cannot fire.
	passErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		fireDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "connecthub_scheduler_fire_delay_seconds",
			Help: "Seconds between a cron slot and the insert of its run.",
			// From the millisecond latency of a healthy scheduler to the
			// hours of a catch-up after downtime.
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
		}),
		passErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "connecthub_scheduler_pass_errors_total",
			Help: "Scheduler passes that failed and were retried.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.fireDelay, err = register(reg, m.fireDelay)
	if err != nil {
		return nil, err
	}
	m.passErrors, err = register(reg, m.passErrors)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name, so that several schedulers in one process (tests, or a server
// that restarts its scheduler) share one series instead of failing.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	var zero C
	return zero, err
}
