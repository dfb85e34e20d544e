// Package scheduler turns due cron slots into runs.
//
// Every `serve` replica runs a Scheduler over the same database, with no
// leader. A pass lists the enabled jobs whose next_run_at has come, decides
// per job which slots fire (the misfire policy), and hands the result to
// the store's JobsFire, which applies each job's firing only if its
// next_run_at is still the one the pass read (compare-and-set) and inserts
// runs under the unique key (job_id, scheduled_for). A replica that loses
// either race changes nothing, so N replicas fire each slot exactly once.
//
// Between passes the scheduler sleeps until the earliest next_run_at of all
// enabled jobs, a TopicJobs notification (a job was created or changed), or
// Config.MaxIdle, whichever comes first: it wakes at the slot rather than
// polling, so firing latency is the time of one pass.
//
// # Slots, lateness and the misfire policies
//
// A slot fired at most Config.MisfireGrace (default 30s) after its time is
// on time; a later one was missed, typically because no scheduler was
// running. The grace exists because a healthy scheduler is not always
// milliseconds late: a database fail-over, a busy SQLite writer, a long GC
// pause or a replica restarting during a rolling deploy delays a pass by
// seconds, and such a slot should still fire under every policy rather than
// be dropped as a misfire. 30s matches the lease TTL and node-dead-after
// defaults, the time the rest of the system already allows for a hiccup.
// (Quartz's misfireThreshold plays the same role.)
//
// For a job whose pending slot prev (its next_run_at) is at or before now:
//
//   - skip fires the slots in [prev, now] that are on time, now−s ≤ grace.
//   - once fires, when prev is on time (now−prev ≤ grace), every slot in
//     [prev, now], all of them on time; otherwise one run, for the latest
//     slot at or before now, if it is within the job's misfire window.
//   - all fires every slot in [prev, now] within the misfire window, at most
//     Config.MaxSlotsPerPass per job and pass; the rest follow in the next
//     pass, which starts at once.
//
// The misfire window of a job is its misfire_window, but never less than
// the grace (a slot within the grace is not a misfire at all, so a small
// window must not make "once" or "all" fire less than "skip"). A
// misfire_window of 0 means unbounded: every missed slot qualifies, however
// old. Zero would otherwise be a useless setting (it would fire nothing
// missed, which is what skip is for), and "0 = no limit" matches the job's
// timeout field.
//
// The job's next_run_at becomes its first slot strictly after now (or, for
// "all" with more slots left, the first slot not yet fired) and its
// last_run_at the latest slot fired. Slots are computed with the job's cron
// expression in the job's time zone.
package scheduler
