package worker

// The spare writer.
//
// The completer writes one batch of outcomes at a time: while the claim
// loop claims, a second write in flight only competed with the claims for
// the database's CPU (measured: the server's CPU per run rose, runs/s did
// not; docs/benchmarks-write-path.md). But once claiming has gone quiet
// (the last claim found fewer runs than it asked for: the queue is
// drained for now), the claim's connection and its share of the database
// are idle, while the outcomes of the last claims may still fill several
// batches. That tail took up to a sixth of a 2,000-worker measurement,
// written one batch after the other by one backend on one core.
//
// So while claiming is quiet, a second writer, the spare, writes the next
// batch while the first is in flight. It writes only a batch of at least a
// full claim's outcomes (anything less is left for the main writer's next
// write, rather than split into two commits), never while claims come
// back full, and never for a Source that records outcomes with its claims
// (the combined call, on SQLite, where writes are serial anyway). The two
// writes hold disjoint outcomes, and the store takes each one's runs in id
// order, so they cannot deadlock with each other or with heartbeats. At
// Stop, once no claim can come (lift), the spare helps the final flush.

// claimsQuiet records whether the claim loop's last claim came back short
// (fewer runs than it asked for), and wakes the spare writer when it did.
func (c *completer) claimsQuiet(quiet bool) {
	if c.quiet.Swap(quiet) != quiet && quiet {
		c.nudge()
	}
}

// kickSpare wakes the spare writer if it may write: only while claiming
// is quiet, so that the outcomes' hot path (every add nudges) pays one
// atomic load and nothing more the rest of the time.
func (c *completer) kickSpare() {
	if !c.quiet.Load() {
		return
	}
	select {
	case c.spareKick <- struct{}{}:
	default:
	}
}

// spareLoop runs the spare writer until Stop's final flush is done: at
// Stop the main writer flushes everything, and the spare helps while it
// does, then returns. It is not started for a Source that records
// outcomes with its claims.
func (c *completer) spareLoop() {
	defer close(c.spareDone)
	for stopping := false; !stopping; {
		select {
		case <-c.spareKick:
		case <-c.stopping:
			stopping = true
		}
		for c.nextSpare(&c.spare) {
			c.writeBatch(&c.spare)
		}
	}
}

// spareBatch is the least the spare writer writes outside the final
// flush: the outcomes of a full claim (the worker's concurrency, which is
// half the completer's limit), at most MaxBatch.
func (c *completer) spareBatch() int { return max(1, min(c.limit/2, MaxBatch)) }

// nextSpare takes a batch for the spare writer into buf if it should
// write one now: claiming is quiet, the main writer is writing, and at
// least spareBatch outcomes are pending (at the final flush, any).
func (c *completer) nextSpare(buf *writeBuf) bool {
	if !c.quiet.Load() {
		return false
	}
	final := false
	select {
	case <-c.stopping:
		final = true
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writing == 0 || len(c.pending) == 0 || (!final && len(c.pending) < c.spareBatch()) {
		return false
	}
	c.takeLocked(buf)
	return true
}
