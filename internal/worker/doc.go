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
// short runs per second, even with few workers:
//
//   - one claim loop asks for as many runs as there are free slots in one
//     Claim call (at most ClaimBatch), claims again at once after a full
//     batch, and otherwise sleeps until the Source wakes it or PollInterval
//     passes; a freed slot never wakes more than that one loop;
//   - a run's slot is freed as soon as its handler has returned and its
//     outcome is handed to the completer, not when the outcome is
//     committed, so claiming the next runs overlaps with writing the
//     outcomes of the last ones instead of alternating with it;
//   - the completer commits outcomes in groups: whatever accumulated while
//     the previous commit ran is written by the next (at most 1000 per
//     call), so throughput is not bounded by one commit per run; one write
//     is in flight at a time, except once claiming has gone quiet (the
//     queue is drained): then a spare writer writes the next full batch
//     alongside, so the outcomes of the last claims do not wait for one
//     another (see spare.go);
//   - both wait for the runs that are about to free their slot or hand over
//     their outcome (tasks between claim and handler, or between log flush
//     and handover: never a handler, which may run for hours), so that runs
//     claimed together are written together: with 50 workers and short
//     runs, a claim and a completion carry about 50 runs each, rather than
//     the slots splitting into several small batches in flight;
//   - when the Source can record outcomes and claim in one call (LocalSource
//     over a store that implements store.RunCompleteClaimer), the claim loop
//     records the terminal outcomes waiting in the completer with its claim,
//     and the completer leaves them to it while a claim is due: with short
//     runs, one batch's outcomes and the next batch's claim are one
//     transaction and one commit (on a durable PostgreSQL, one WAL flush
//     where two separate calls each wait for their own);
//   - with runs shorter than a claim's round trip, the claim loop claims
//     ahead of free slots: as many runs as it expects slots to free during
//     one claim (estimated from the rate slots were freed at and the
//     latency of recent claims), which wait in the worker, heartbeated,
//     and start in claim order as slots free; so claims follow one
//     another back to back instead of waiting for the runs. With longer
//     runs the estimate is zero and nothing is claimed ahead (see
//     ahead.go);
//   - one heartbeat call extends the leases of all the runs the node holds.
//
// # Bounds
//
// What Concurrency guarantees, precisely:
//
//   - At most Concurrency handlers run at once. A slot is taken from the
//     claim until the run's goroutine has returned and its outcome has been
//     handed to the completer; an abandoned handler (see below) keeps its
//     slot until it returns.
//   - At most 2 × Concurrency outcomes wait to be recorded (queued or
//     being written): a batch of up to Concurrency being written while the
//     next one fills, so that the outcomes that finish during a write never
//     wait for room (see completerLimit). A run that finishes while the
//     completer holds that many waits for room with its slot still taken,
//     so a slow database slows claiming down instead of piling up outcomes
//     in memory.
//   - At most Concurrency runs claimed ahead wait for a slot (see
//     ahead.go), and only while runs are shorter than a claim's round trip.
//   - The runs this node holds RUNNING in the database (Running) are the
//     runs in slots, the outcomes waiting to be recorded and the runs
//     claimed ahead: never more than 4 × Concurrency, by the three bounds
//     above, and that only with runs shorter than a commit. Without runs
//     claimed ahead (longer runs), they exceed Concurrency only by the
//     outcomes waiting to be recorded.
//   - A run claimed ahead waits about one claim round trip for its slot.
//     Its lease is heartbeated meanwhile, a cancel request ends it
//     CANCELED when it starts, its timeout counts from its start, and a
//     pause or Stop hands it back to the queue unrun.
//   - A run whose outcome waits is still heartbeated: its lease is extended
//     until the outcome is committed, so it cannot be rescued meanwhile.
//
// Once Stop has ended claiming, the completer takes outcomes without the
// bound (the runs held can then only decrease), so that the last outcomes
// are all queued for the final flush even when the database does not
// answer.
//
// # Failure modes
//
// A completion that fails is retried with back-off until it succeeds: a
// database hiccup does not lose outcomes. If the process dies, its leases
// expire and the Rescuer of internal/maintenance (run by every `serve`)
// re-queues the runs, or ends them FAILURE "worker lost" when they have no
// attempts left.
//
// Go cannot stop a goroutine, so a handler that ignores its context cannot
// be killed. When a run's context is cancelled (timeout, cancel request,
// shutdown) and the handler has not returned HandlerGrace later, the runtime
// records the outcome without it and abandons the goroutine, logging it. The
// abandoned goroutine keeps its slot until it returns, because Concurrency is
// a bound on real work in the process; a handler that never returns leaks its
// slot for the life of the process, and the log says which one.
package worker
