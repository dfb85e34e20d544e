// Package maintenance holds the background services that keep the
// database healthy on every `serve` replica: the Rescuer, which takes back
// the runs whose lease expired, and the NodeReaper, which declares silent
// nodes dead and rescues their runs at once, the cleaners that keep the
// audit log and the runs to their retention (AuditCleaner, RunCleaner), and
// the StatsCompactor.
//
// Each service is built on internal/startstop, reads the time from an
// injected clock.Clock, and does its work in idempotent store calls, so
// that any number of replicas may run it at once. A pass runs at Start
// (the cleaners: after a StartDelay, so that a starting server serves its
// queue first and replicas restarted together do not clean together) and
// then every Interval; between passes the service waits on a clock timer,
// so with a fake clock a pending timer means "idle", which tests wait for
// instead of sleeping.
package maintenance
