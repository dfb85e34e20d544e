// Package runlog captures what a job's handler logs while it runs and turns
// it into the run's log and the run's message.
//
// A [Capture] is created for every run. It hands the handler a
// [*slog.Logger] (and, for subprocesses, [io.Writer]s for stdout and
// stderr), masks the values of the job's secrets on every line, buffers the
// lines in memory and flushes them to a [Sink] in the background so that the
// run log can be read live while the run is RUNNING. The worker runtime
// implements the Sink: an append to the run's row in-process, an HTTP call in
// a remote worker.
//
// The log is capped at [Config.MaxBytes]. Once the cap is reached the log is
// cut at a UTF-8 boundary, ends with "[TRUNCATED]", and everything logged
// afterwards is dropped before it is even formatted, so a handler that logs
// megabytes costs neither memory nor database space. Warning lines are
// collected separately (even after the log was cut) and summarised in the
// run's message by [Message] or [Capture.Message].
//
// Logging never waits for the Sink: the handler's goroutines only append to
// a bounded buffer under a mutex. A failed append is retried on the next
// flush, so a short database hiccup loses nothing.
package runlog
