package worker

// heartbeatLoop extends the leases of the runs this node holds, every
// Heartbeat and at once when the Source signals that a cancel may have been
// requested (the heartbeat answer says which runs to cancel).
func (w *Worker) heartbeatLoop(cancels <-chan struct{}) {
	defer close(w.hbDone)
	timer := w.cfg.Clock.NewTimer(w.cfg.Heartbeat)
	defer timer.Stop()
	for {
		select {
		case <-w.hbStop:
			return
		case <-timer.C():
			// The period counts from the start of a heartbeat, as a
			// ticker's would, so a slow one does not delay the next.
			timer.Reset(w.cfg.Heartbeat)
		case <-cancels:
		}
		w.heartbeat()
	}
}

// heartbeat sends one heartbeat for all held runs (in calls of at most
// MaxBatch ids) and applies the answers. The answers are applied to the
// tasks that were asked about, not to whatever holds the id by then, so a
// late answer cannot cancel a newer attempt of the same run.
func (w *Worker) heartbeat() {
	w.leaseMu.Lock()
	if len(w.leased) == 0 {
		w.leaseMu.Unlock()
		return
	}
	tasks := make(map[string]*task, len(w.leased))
	ids := make([]string, 0, len(w.leased))
	for id, t := range w.leased {
		tasks[id] = t
		ids = append(ids, id)
	}
	w.leaseMu.Unlock()

	for start := 0; start < len(ids); start += MaxBatch {
		chunk := ids[start:min(start+MaxBatch, len(ids))]
		res, err := w.src.Heartbeat(w.bg, chunk)
		if err != nil {
			if w.bg.Err() != nil {
				return // Stop interrupted it: no lease is needed any more
			}
			w.log.Warn("heartbeat failed; leases not extended", "runs", len(chunk), "err", err)
			continue
		}
		for _, id := range res.Lost {
			// A decided run is only waiting for its outcome to be written
			// (which will not apply, or already did and raced this answer).
			if t := tasks[id]; t != nil && !t.decided.Load() && !t.lost.Load() {
				w.log.Warn("run lease lost; cancelling its handler", "run_id", id, "job_id", t.run.JobID)
				t.markLost()
			}
		}
		for _, id := range res.CancelRequested {
			if t := tasks[id]; t != nil && !t.decided.Load() && !t.cancelRequested.Load() {
				w.log.Info("run cancel requested; cancelling its handler", "run_id", id, "job_id", t.run.JobID)
				t.requestCancel()
			}
		}
	}
}
