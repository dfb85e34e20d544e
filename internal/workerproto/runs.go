package workerproto

import (
	"context"
	"strings"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/worker"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
	"github.com/connecthub/connecthub/protocol"
)

// Heartbeat extends the leases of the runs a node holds and answers for
// each, in the order asked. A run counts as held only in the attempt the
// worker names (the store checks it): a node whose attempt was rescued and
// that claimed the run again holds the new attempt, not the old one.
func (s *Service) Heartbeat(ctx context.Context, req protocol.HeartbeatRequest) (*protocol.HeartbeatResponse, error) {
	if err := checkNodeName(req.Name); err != nil {
		return nil, err
	}
	if len(req.Runs) > protocol.MaxClaimRuns {
		return nil, connecthub.FieldError("runs", "", "runs must list at most %d runs", protocol.MaxClaimRuns)
	}
	seen := make(map[string]bool, len(req.Runs))
	for i, ref := range req.Runs {
		if ref.ID == "" || ref.Attempt < 1 {
			return nil, connecthub.FieldError("runs", "", "runs[%d] needs an id and its attempt (at least 1)", i)
		}
		if seen[ref.ID] {
			return nil, connecthub.FieldError("runs", "", "run %s is listed twice", ref.ID)
		}
		seen[ref.ID] = true
	}
	if err := s.authorizeNode(ctx, req.Name); err != nil {
		return nil, err
	}
	out, err := s.heartbeat(ctx, req.Name, req.Runs)
	if err != nil {
		return nil, err
	}
	return &protocol.HeartbeatResponse{Runs: out}, nil
}

// HeartbeatRun extends the lease of one run; LeaseLost when the node does
// not hold that attempt.
func (s *Service) HeartbeatRun(ctx context.Context, id string, req protocol.RunHeartbeatRequest) (*protocol.RunHeartbeat, error) {
	if err := checkNodeName(req.Name); err != nil {
		return nil, err
	}
	if err := checkAttempt(req.Attempt); err != nil {
		return nil, err
	}
	if err := s.authorizeNode(ctx, req.Name); err != nil {
		return nil, err
	}
	out, err := s.heartbeat(ctx, req.Name, []protocol.RunRef{{ID: id, Attempt: req.Attempt}})
	if err != nil {
		return nil, err
	}
	if out[0].Lost {
		return nil, LeaseLost(id)
	}
	return &out[0], nil
}

func (s *Service) heartbeat(ctx context.Context, node string, refs []protocol.RunRef) ([]protocol.RunHeartbeat, error) {
	now := s.now()
	ids := make([]string, len(refs))
	attempts := make(map[string]int, len(refs))
	for i, ref := range refs {
		ids[i] = ref.ID
		attempts[ref.ID] = ref.Attempt
	}
	res, err := s.cfg.Store.RunHeartbeat(ctx, store.RunHeartbeatParams{
		Node: node, IDs: ids, Attempts: attempts, LeaseTTL: s.cfg.LeaseTTL, Now: now,
	})
	if err != nil {
		return nil, err
	}
	lost := make(map[string]bool, len(res.Lost))
	for _, id := range res.Lost {
		lost[id] = true
	}
	cancel := make(map[string]bool, len(res.CancelRequested))
	for _, id := range res.CancelRequested {
		cancel[id] = true
	}
	lease := now.Add(s.cfg.LeaseTTL)
	out := make([]protocol.RunHeartbeat, len(refs))
	for i, ref := range refs {
		hb := protocol.RunHeartbeat{ID: ref.ID, Lost: lost[ref.ID]}
		if !hb.Lost {
			hb.CancelRequested = cancel[ref.ID]
			hb.LeaseExpiresAt = &lease
		}
		out[i] = hb
	}
	return out, nil
}

// heldRun returns the run if node holds that attempt of it: KindNotFound
// when the run does not exist, LeaseLost when the node does not hold it.
func (s *Service) heldRun(ctx context.Context, id, node string, attempt int) (*connecthub.Run, error) {
	run, err := s.cfg.Store.RunGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if !runrules.Holds(run, node, attempt) {
		return run, LeaseLost(id)
	}
	return run, nil
}

// masker builds the masker of a run's secrets and the server's own. The
// server masks what a worker sends even though ConnectHub's own worker
// already did: a worker in another language may not, and a foreign worker
// must not be able to store a secret in clear.
func (s *Service) masker(ctx context.Context, run *connecthub.Run) (*runlog.Masker, error) {
	values, err := runrules.Secrets(ctx, s.cfg.Store, s.cfg.Keys, run)
	if err != nil {
		return nil, err
	}
	return runrules.Masker(s.serverMasks.Masker(ctx), values)
}

// AppendLog appends to the log of a run the node holds: req.Chunk, then
// req.Lines each ended by a newline. The text is made storable, the run's
// secrets are masked out of it and the log is kept within RunLogMaxBytes.
// chunkSent says whether the request carried a chunk at all, which the
// wire type cannot tell from an empty one: exactly one of lines and chunk
// must be sent.
func (s *Service) AppendLog(ctx context.Context, id string, req protocol.LogRequest, chunkSent bool) error {
	if err := checkNodeName(req.Name); err != nil {
		return err
	}
	if err := checkAttempt(req.Attempt); err != nil {
		return err
	}
	switch {
	case req.Lines != nil && chunkSent:
		return connecthub.FieldError("lines", "", "send lines or chunk, not both")
	case req.Lines == nil && !chunkSent:
		return connecthub.FieldError("lines", "", "lines (an array of strings) or chunk (a string) is required")
	}
	if err := s.authorizeNode(ctx, req.Name); err != nil {
		return err
	}
	chunk := req.Chunk
	for _, l := range req.Lines {
		chunk += strings.TrimRight(l, "\r\n") + "\n"
	}
	run, err := s.heldRun(ctx, id, req.Name, req.Attempt)
	if err != nil {
		return err
	}
	chunk = runrules.CleanText(chunk)
	if chunk == "" {
		return nil
	}
	m, err := s.masker(ctx, run)
	if err != nil {
		return err
	}
	// A foreign worker may cut its log anywhere, even inside a secret: the
	// end of the previous request that could begin one is masked with this
	// request, and the end of this one is held for the next. The holder is
	// checked again in the statement that writes, so a rescue since
	// heldRun cannot let this chunk into a later attempt's log.
	prev, err := s.heldText(ctx, run, req.Attempt)
	if err != nil {
		return err
	}
	held, err := s.appendSplit(ctx, run, req.Name, req.Attempt, m, prev, chunk, false)
	if err == nil && !held {
		return LeaseLost(id)
	}
	return err
}

// Complete records how an attempt ended and returns the run after it. Only
// the holder of the attempt may record it; anything else is either a
// repeat of a completion that already applied (answered with the run
// again, so that a worker that lost an answer can simply retry) or a late
// completion of a lost lease (LeaseLost, nothing written).
func (s *Service) Complete(ctx context.Context, id string, req protocol.CompleteRequest) (*connecthub.Run, error) {
	if err := checkNodeName(req.Name); err != nil {
		return nil, err
	}
	if err := checkAttempt(req.Attempt); err != nil {
		return nil, err
	}
	status := strings.ToUpper(strings.TrimSpace(req.Status))
	switch status {
	case protocol.CompleteSuccess, protocol.CompleteFailure, protocol.CompleteCanceled, protocol.CompleteRetry, protocol.CompleteHandBack:
	default:
		return nil, connecthub.FieldError("status", "", "status must be SUCCESS, FAILURE, CANCELED, RETRY or HANDBACK")
	}
	if err := s.authorizeNode(ctx, req.Name); err != nil {
		return nil, err
	}
	result := req.Result
	if strings.TrimSpace(string(result)) == "null" {
		result = nil
	}
	st := s.cfg.Store
	run, err := st.RunGet(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := s.masker(ctx, run)
	if err != nil {
		return nil, err
	}
	now := s.now()
	o := store.RunOutcome{
		ID: id, Node: req.Name, Attempt: req.Attempt, Now: now,
		Message:   runlog.Message(m.Mask(req.Message), nil),
		Error:     runlog.Message(m.Mask(req.Error), nil),
		Traceback: runlog.Message(m.Mask(req.Traceback), nil),
	}
	switch status {
	case protocol.CompleteRetry:
		o.Status, o.ConsumeAttempt = connecthub.StatusQueued, true
		o.RetryAt = now.Add(worker.Backoff(run.Snapshot.RetryBackoff.D(), s.cfg.RetryBackoffMax, req.Attempt, s.cfg.Rand()))
		if o.Error == "" {
			o.Error = "the worker asked for a retry without an error message"
		}
	case protocol.CompleteHandBack:
		o.Status, o.RetryAt = connecthub.StatusQueued, now
	default:
		o.Status = connecthub.RunStatus(status)
		o.Result = m.MaskJSON(result)
	}
	if runrules.Holds(run, req.Name, req.Attempt) {
		// The end of the log held back for a secret's remainder ends
		// with the attempt: it is masked as it is and stored first.
		prev, err := s.heldText(ctx, run, req.Attempt)
		if err != nil {
			return nil, err
		}
		if prev != "" {
			if _, err := s.appendSplit(ctx, run, req.Name, req.Attempt, m, prev, "", true); err != nil {
				return nil, err
			}
		}
		applied, err := st.RunComplete(ctx, []store.RunOutcome{o})
		if err != nil {
			return nil, err
		}
		if run, err = st.RunGet(ctx, id); err != nil {
			return nil, err
		}
		if len(applied) == 1 && applied[0] {
			run.FillDuration()
			return run, nil
		}
	}
	if runrules.AlreadyApplied(run, status, &o) {
		run.FillDuration()
		return run, nil
	}
	return nil, LeaseLost(id)
}
