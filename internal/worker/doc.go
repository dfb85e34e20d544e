// Package worker is ConnectHub's worker runtime: it claims runs, executes
// their handlers under a context that carries the run's timeout, cancel
// requests and the shutdown deadline, keeps their leases alive with
// heartbeats, captures their logs, and records their outcomes (success,
// retry with back-off, failure, cancel, or hand-back on shutdown).
//
// The runtime is written once against Source, a small interface for "where
// runs come from and where their outcome goes". LocalSource implements it
// over the store for the worker pool inside `connecthub serve`; the remote
// `connecthub worker` implements it over the HTTP worker protocol. So leases,
// heartbeats, cancellation, log capture and shutdown behave the same in both.
//
// # Throughput
//
// The runtime is built so that one node can execute tens of thousands of
// short runs per second:
//
//   - one claim loop asks for as many runs as there are free slots in one
//     Claim call (at most ClaimBatch), claims again at once after a full
//     batch, and otherwise sleeps until the Source wakes it or PollInterval
//     passes; a freed slot never wakes more than that one loop;
//   - outcomes go to a completer that commits them in groups: whatever
//     accumulated while the previous commit ran is written by the next
//     (at most 1000 per call), so throughput is not bounded by one commit
//     per run;
//   - one heartbeat call extends the leases of all the runs the node holds.
//
// A slot stays taken until the run's outcome is committed (or dropped), so
// the node never holds more than Concurrency runs in the database either,
// and a slow database slows claiming down instead of piling up outcomes in
// memory.
//
// # Failure modes
//
// A completion that fails is retried with back-off until it succeeds: a
// database hiccup does not lose outcomes. If the process dies, its leases
// expire and the Rescuer (run by every `serve`) re-queues the runs, or ends
// them FAILURE "worker lost" when they have no attempts left.
//
// Go cannot stop a goroutine, so a handler that ignores its context cannot
// be killed. When a run's context is cancelled (timeout, cancel request,
// shutdown) and the handler has not returned HandlerGrace later, the runtime
// records the outcome without it and abandons the goroutine, logging it. The
// abandoned goroutine keeps its slot until it returns, because Concurrency is
// a bound on real work in the process; a handler that never returns leaks its
// slot for the life of the process, and the log says which one.
package worker
