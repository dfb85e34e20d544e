package worker

import (
	"math"
	"time"
)

// Claiming ahead.
//
// With short runs, a worker waits on its claims: a batch of Concurrency
// runs is claimed, executed in a moment, and the slots then wait for the
// next claim's round trip (on a durable PostgreSQL, a WAL flush) before
// they work again. So the claim loop may claim runs ahead of free slots:
// as many as the slots it expects to free during one claim round trip,
// estimated from the rate at which slots were freed and the latency of
// recent claims. The runs claimed ahead wait in the worker (RUNNING in the
// database, heartbeated, and started in claim order as slots free) while
// the next claim is in flight, so that claims follow one another back to
// back instead of waiting for the runs.
//
// What keeps it honest:
//   - The estimate is of slots freed within one round trip: a run claimed
//     ahead waits about as long as it would have waited for its own claim.
//     With runs that take longer than a claim (most real integration jobs),
//     the estimate is near zero and nothing is claimed ahead, so no run
//     sits claimed on a busy node while another node idles.
//   - The runs waiting for a slot are bounded on their own: at most
//     Concurrency (the allowance never exceeds it), next to the Concurrency
//     slots and the Concurrency outcomes waiting to be recorded, so a node
//     holds at most 3 × Concurrency runs RUNNING (see the package doc).
//     They used to share one bound of 2 × Concurrency with the outcomes
//     waiting; but on a durable database an outcome waits for a commit's
//     flush before it is recorded, and while the outcomes of the last
//     batches waited, the claims were cut to the few runs they left room
//     for, which bounded a node with short runs by its completions'
//     latency rather than by its slots.
//   - Nothing is claimed ahead that the completer has no room for: the
//     allowance is at most the places left in the completer. When the
//     database falls behind on outcomes, runs wait for a place with their
//     slots taken, and claiming slows down as it does without claims
//     ahead; no run is claimed to wait behind them.
//   - A Source that records outcomes together with its claim (the combined
//     call, on SQLite) claims ahead too. There the claim and the completion
//     share one writer, and without claims ahead the two took turns with
//     the runs: a call recorded a batch's outcomes and claimed the next
//     batch, the node waited for it, ran the batch, and the writer waited
//     for the outcomes. Claimed ahead, the next batch runs while the call
//     is in flight, and the call after it carries that batch's outcomes
//     (the claim loop stays armed, see Worker.claim), so a call still
//     records a full batch and claims one, and the node's work and the
//     store's overlap on two cores (docs/benchmarks-sqlite.md).
//   - A Source whose claims are long polls (the remote worker's, see
//     BlockingClaimer) does not claim ahead: the runs claimed ahead start
//     only when the claim loop is back, and a long poll may hold it for
//     seconds while slots are free.
//   - A pause or a Stop hands the runs claimed ahead back (QUEUED, same
//     attempt) without running them, as it does the runs of a claim that
//     arrives after it.

// aheadEstimator estimates how many slots free during one claim round
// trip. Only the claim loop uses it.
type aheadEstimator struct {
	started    time.Time // start of the previous claim
	freedThen  int64     // slots freed before the previous claim started
	rate       float64   // slots freed per second, smoothed
	latency    float64   // seconds per claim, smoothed
	primedRate bool
	primedLat  bool
}

// smoothing is the weight of the newest sample in the estimates: recent
// enough to follow a change of load within a few claims.
const smoothing = 0.5

// claimStarted records a claim's start with the slots freed so far.
func (e *aheadEstimator) claimStarted(now time.Time, freed int64) {
	if !e.started.IsZero() {
		if dt := now.Sub(e.started).Seconds(); dt > 0 {
			e.rate = e.blend(e.rate, float64(freed-e.freedThen)/dt, &e.primedRate)
		}
	}
	e.started, e.freedThen = now, freed
}

// claimEnded records a successful claim's latency.
func (e *aheadEstimator) claimEnded(now time.Time) {
	if d := now.Sub(e.started).Seconds(); d >= 0 {
		e.latency = e.blend(e.latency, d, &e.primedLat)
	}
}

func (e *aheadEstimator) blend(old, sample float64, primed *bool) float64 {
	if !*primed {
		*primed = true
		return sample
	}
	return old + smoothing*(sample-old)
}

// allowance returns how many runs to hold claimed ahead, at most limit:
// the slots expected to free during one claim, rounded down, so that runs
// that free less than one slot per claim round trip get none.
func (e *aheadEstimator) allowance(limit int) int {
	if !e.primedRate || !e.primedLat {
		return 0
	}
	return int(min(float64(limit), math.Floor(e.rate*e.latency)))
}

// claimSize returns how many runs the claim loop should claim now, given
// free slots; 0 means wait (for a slot, the pipe, or an outcome to be
// recorded).
func (w *Worker) claimSize(free int) int {
	allow := 0
	if !w.pause.interruptible {
		allow = min(w.estimate.allowance(w.cfg.Concurrency), w.comp.room())
	}
	if allow > len(w.ahead) {
		// The free slots take the runs waiting first, so after this
		// claim at most allow runs wait.
		return min(free+allow-len(w.ahead), w.cfg.ClaimBatch)
	}
	if len(w.ahead) > 0 || !w.claimDueFor(free) {
		return 0
	}
	return min(free, w.cfg.ClaimBatch)
}

// startAhead starts runs claimed ahead, in claim order, on the free slots.
func (w *Worker) startAhead() {
	n := 0
	for n < len(w.ahead) && int(w.used.Load()) < w.cfg.Concurrency {
		w.start(w.ahead[n])
		n++
	}
	k := copy(w.ahead, w.ahead[n:])
	clear(w.ahead[k:])
	w.ahead = w.ahead[:k]
}

// handBackAhead returns the runs claimed ahead to the queue unrun.
func (w *Worker) handBackAhead() {
	for _, t := range w.ahead {
		t.handBack = true
		w.start(t)
	}
	clear(w.ahead)
	w.ahead = w.ahead[:0]
}
