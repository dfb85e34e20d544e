package worker

import (
	"context"
	"errors"

	"github.com/connecthub/connecthub/internal/store"
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
	_, runs, err := cc.RunCompleteAndClaim(ctx, outcomes, store.RunClaimParams{
		Node:     s.node,
		Queues:   s.queues,
		Max:      max,
		LeaseTTL: s.leaseTTL,
		Now:      s.now(),
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Claimed, len(runs))
	for i, r := range runs {
		out[i] = &Claimed{Run: r}
		out[i].Secrets, out[i].Err = s.secrets(ctx, r)
	}
	return out, nil
}
