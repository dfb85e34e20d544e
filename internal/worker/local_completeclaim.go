package worker

import (
	"context"
	"errors"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
)

// CompleteAndClaim records outcomes and claims up to max runs in one store
// call when the store implements store.RunCompleteClaimer, and as Complete
// then Claim otherwise. Like Complete, it records every outcome as this
// source's node; like Claim, it decrypts the claimed runs' secrets.
func (s *LocalSource) CompleteAndClaim(ctx context.Context, outcomes []store.RunOutcome, max int) ([]*Claimed, error) {
	cc, ok := s.st.(store.RunCompleteClaimer)
	if !ok || len(outcomes) == 0 {
		if err := s.Complete(ctx, outcomes); err != nil {
			return nil, err
		}
		return s.Claim(ctx, max)
	}
	if s.node == "" {
		return nil, errors.New("worker: local source has no node name")
	}
	for i := range outcomes {
		outcomes[i].Node = s.node
	}
	_, runs, err := cc.RunCompleteAndClaim(ctx, outcomes, s.claimParams(max))
	if err != nil {
		return nil, err
	}
	// As Complete then Claim: the outcomes' attempts are forgotten before
	// the claimed runs' are recorded, so a run re-queued and claimed again
	// in this call keeps its new attempt.
	s.forget(outcomes)
	return s.claimed(ctx, runs), nil
}

// CompleteAndClaimPays reports whether the store's combined call is worth
// using (see store.RunCompleteClaimer); false when the store has none.
func (s *LocalSource) CompleteAndClaimPays() bool {
	cc, ok := s.st.(store.RunCompleteClaimer)
	return ok && cc.CompleteAndClaimPays()
}

// claimParams asks for up to max runs of this source's queues for its node.
func (s *LocalSource) claimParams(max int) store.RunClaimParams {
	return store.RunClaimParams{
		Node:     s.node,
		Queues:   s.queues,
		Handlers: s.handlers,
		Max:      max,
		LeaseTTL: s.leaseTTL,
		Now:      s.now(),
	}
}

// claimed records the attempt of each claimed run (see attempt) and wraps
// the runs with their decrypted secrets and their masker; a run whose
// secrets cannot be read gets Claimed.Err.
func (s *LocalSource) claimed(ctx context.Context, runs []*connecthub.Run) []*Claimed {
	s.attemptsMu.Lock()
	for _, r := range runs {
		s.attempts[r.ID] = r.Attempt
	}
	s.attemptsMu.Unlock()
	out := make([]*Claimed, len(runs))
	base := s.serverMasks.Masker(ctx)
	for i, r := range runs {
		c := &Claimed{Run: r}
		c.Secrets, c.Err = s.secrets(ctx, r)
		c.Masker = runrules.RunMasker(base, c.Secrets)
		out[i] = c
	}
	return out
}

// forget drops the attempts of the runs whose outcomes were recorded,
// unless the run was claimed again since (a newer attempt).
func (s *LocalSource) forget(outcomes []store.RunOutcome) {
	s.attemptsMu.Lock()
	defer s.attemptsMu.Unlock()
	for _, o := range outcomes {
		if s.attempts[o.ID] == o.Attempt {
			delete(s.attempts, o.ID)
		}
	}
}
