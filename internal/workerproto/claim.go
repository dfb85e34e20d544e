package workerproto

import (
	"context"
	"encoding/json"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
	"github.com/connecthub/connecthub/protocol"
)

// Claim claims up to req.Max runs for the node, waiting up to req.Wait for
// some to arrive, and returns them with their secrets decrypted. A node
// only gets runs of the queues and handlers it registered. The transport
// must give the runs back with HandBack when it cannot deliver the answer.
func (s *Service) Claim(ctx context.Context, req protocol.ClaimRequest) (*protocol.ClaimResponse, error) {
	if err := checkNodeName(req.Name); err != nil {
		return nil, err
	}
	if req.Max < 1 || req.Max > protocol.MaxClaimRuns {
		return nil, connecthub.FieldError("max", "", "max must be between 1 and %d", protocol.MaxClaimRuns)
	}
	if req.Wait < 0 || req.Wait.D() > protocol.MaxClaimWait {
		return nil, connecthub.FieldError("wait", "", "wait must be between 0s and %s", protocol.MaxClaimWait)
	}
	if err := s.authorizeNode(ctx, req.Name); err != nil {
		return nil, err
	}
	n, err := s.cfg.Nodes.Get(ctx, req.Name)
	if connecthub.IsKind(err, connecthub.KindNotFound) {
		return nil, errNotRegistered
	}
	if err != nil {
		return nil, err
	}
	// A run's secrets go only to a worker whose token may serve its queue.
	n.Queues = claimQueues(ctx, n.Queues)
	tasks, err := s.claimWaiting(ctx, n, req.Max, req.Wait.D())
	if err != nil {
		return nil, err
	}
	if n.PresentState == connecthub.NodeActivating && len(tasks) > 0 {
		// A node turns active once it claims (docs/worker-protocol.md). A
		// failure here only delays the state until the node's next keepalive.
		if _, err := s.cfg.Nodes.Keepalive(context.WithoutCancel(ctx), n.Name, connecthub.NodeActive, n.Running); err != nil {
			s.log.Warn("marking node active after its first claim failed", "node", n.Name, "err", err)
		}
	}
	resp := &protocol.ClaimResponse{
		Runs:      make([]protocol.ClaimedRun, 0, len(tasks)),
		LeaseTTL:  connecthub.Duration(s.cfg.LeaseTTL),
		Heartbeat: connecthub.Duration(s.cfg.Heartbeat),
	}
	for _, t := range tasks {
		resp.Runs = append(resp.Runs, claimedRun(t.run, t.secrets))
	}
	return resp, nil
}

// claimedRun is a run as a worker receives it.
func claimedRun(run *connecthub.Run, secrets map[string]any) protocol.ClaimedRun {
	cfg := run.Snapshot.PublicCfg
	if len(cfg) == 0 {
		cfg = json.RawMessage(`{}`)
	}
	if secrets == nil {
		secrets = map[string]any{}
	}
	cr := protocol.ClaimedRun{
		ID: run.ID, JobID: run.JobID, Attempt: run.Attempt, MaxAttempts: run.MaxAttempts,
		Handler: run.Snapshot.Handler, Queue: run.Queue, PublicCfg: cfg, Secrets: secrets,
		Timeout: run.Snapshot.Timeout, Trigger: run.Trigger, ScheduledFor: run.ScheduledFor,
		Upstream: run.Snapshot.Meta.Upstream,
	}
	if run.LeaseExpiresAt != nil {
		cr.LeaseExpiresAt = *run.LeaseExpiresAt
	}
	return cr
}

// claimHandlers is what a node serves, as a claim asks for it: handler
// names, and the prefixes of its wildcard handlers.
type claimHandlers struct {
	names, prefixes []string
}

// claimedTask is a claimed run and its decrypted secrets.
type claimedTask struct {
	run     *connecthub.Run
	secrets map[string]any
}

// claimWaiting claims up to max runs for node n, waiting up to wait for
// some to arrive: it claims at once, then again whenever the store says
// runs may be claimable, or PollInterval passed, until runs come, wait
// passes, the caller goes away, or this server starts draining (a long
// poll must not hold a shutdown up).
func (s *Service) claimWaiting(ctx context.Context, n *connecthub.Node, max int, wait time.Duration) ([]*claimedTask, error) {
	// A wildcard handler ("py:*") claims every run whose handler starts
	// with its prefix.
	var h claimHandlers
	for _, nh := range n.Handlers {
		if prefix, ok := connecthub.HandlerPrefix(nh.Name); ok {
			h.prefixes = append(h.prefixes, prefix)
		} else {
			h.names = append(h.names, nh.Name)
		}
	}
	// A node an operator stopped, or that serves nothing, gets nothing;
	// it still waits, so a worker that ignores setting_state does not spin.
	idle := n.SettingState == connecthub.NodeInactive || len(n.Handlers) == 0 || len(n.Queues) == 0

	var wake <-chan struct{}
	if !idle && wait > 0 {
		// Subscribe before the first claim, so that a run inserted
		// between that claim and the wait is not missed.
		ch, unsubscribe := s.cfg.Store.Subscribe(store.TopicRuns)
		defer unsubscribe()
		wake = ch
	}
	deadline := s.cfg.Clock.NewTimer(wait)
	defer deadline.Stop()
	poll := s.cfg.Clock.NewTimer(time.Hour)
	defer poll.Stop()
	for {
		if ctx.Err() != nil {
			return nil, nil // the caller went away: claim nothing for it
		}
		if !idle {
			runs, err := s.claimOnce(ctx, n, h, max)
			if err != nil || len(runs) > 0 || wait <= 0 {
				return runs, err
			}
		} else if wait <= 0 {
			return nil, nil
		}
		// The fallback poll is jittered so that idle workers started
		// together do not claim in lockstep.
		p := s.cfg.PollInterval
		poll.Reset(p - p/10 + time.Duration(s.cfg.Rand()*float64(p/5)))
		select {
		case <-wake:
		case <-poll.C():
			if s.cfg.Ready != nil {
				if ok, _ := s.cfg.Ready(ctx); !ok {
					return nil, nil
				}
			}
		case <-deadline.C():
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// claimOnce claims runs and decrypts their secrets. A run whose secrets
// cannot be decrypted is ended FAILURE here, with the reason, instead of
// being sent to a worker that could not run it either.
func (s *Service) claimOnce(ctx context.Context, n *connecthub.Node, h claimHandlers, max int) ([]*claimedTask, error) {
	st := s.cfg.Store
	now := s.now()
	// The claim itself is not cut short when the caller goes away: runs
	// it committed would be left RUNNING for nobody until their leases
	// expired. The transport hands them back instead.
	runs, err := st.RunClaim(context.WithoutCancel(ctx), store.RunClaimParams{
		Node: n.Name, Queues: n.Queues, Handlers: h.names, HandlerPrefixes: h.prefixes, Max: max,
		LeaseTTL: s.cfg.LeaseTTL, Now: now,
	})
	if err != nil {
		return nil, err
	}
	out := make([]*claimedTask, 0, len(runs))
	var failed []store.RunOutcome
	for _, run := range runs {
		secrets, err := runrules.Secrets(context.WithoutCancel(ctx), st, s.cfg.Keys, run)
		if err != nil {
			failed = append(failed, store.RunOutcome{ID: run.ID, Node: n.Name, Status: connecthub.StatusFailure,
				Error: err.Error(), Now: now, Attempt: run.Attempt})
			continue
		}
		out = append(out, &claimedTask{run: run, secrets: secrets})
	}
	if len(failed) > 0 {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
		defer cancel()
		if _, err := st.RunComplete(cctx, failed); err != nil {
			s.log.Error("ending runs whose secrets cannot be decrypted failed; they will be rescued when their leases expire", "runs", len(failed), "err", err)
		}
	}
	return out, nil
}

// HandBack re-queues runs claimed for node without consuming an attempt,
// for a transport that could not deliver them: a worker that gives up on a
// long poll (it is pausing or stopping) loses nothing, and the runs do not
// wait for their leases to expire. It runs even when ctx has ended, within
// its own time limit, and logs rather than returns its failures (the runs
// are then rescued when their leases expire).
func (s *Service) HandBack(ctx context.Context, node string, runs []protocol.ClaimedRun) {
	if len(runs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
	defer cancel()
	now := s.now()
	outcomes := make([]store.RunOutcome, len(runs))
	for i, r := range runs {
		outcomes[i] = store.RunOutcome{ID: r.ID, Node: node, Status: connecthub.StatusQueued,
			Now: now, RetryAt: now, Attempt: r.Attempt}
	}
	if _, err := s.cfg.Store.RunComplete(ctx, outcomes); err != nil {
		s.log.Error("handing back runs claimed for a worker that went away failed; they will be rescued when their leases expire",
			"node", node, "runs", len(runs), "err", err)
		return
	}
	s.log.Info("worker went away during its claim; runs handed back", "node", node, "runs", len(runs))
}
