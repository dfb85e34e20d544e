package sqlitestore

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

var _ store.RunCompleteClaimer = (*Store)(nil)

// CompleteAndClaimPays implements store.RunCompleteClaimer: the single
// writer connection serializes a completion and a claim anyway.
func (s *Store) CompleteAndClaimPays() bool { return true }

// RunCompleteAndClaim implements store.RunCompleteClaimer: the outcomes
// and the claim in one write transaction, whatever the outcomes are. On the
// single writer connection that saves a transaction per batch, and the
// pages that the completion and the claim both change (the claim index,
// the runs' table pages) are written to the WAL once instead of twice.
func (s *Store) RunCompleteAndClaim(ctx context.Context, outcomes []store.RunOutcome, claim store.RunClaimParams) ([]bool, []*connecthub.Run, error) {
	if len(outcomes) == 0 {
		runs, err := s.RunClaim(ctx, claim)
		if err != nil {
			return nil, nil, err
		}
		return []bool{}, runs, nil
	}
	cl, err := s.prepareClaim(ctx, claim)
	if err != nil {
		return nil, nil, err
	}
	defer cl.release()
	co, err := s.prepareComplete(ctx, outcomes)
	if err != nil {
		return nil, nil, err
	}
	defer co.release()
	var runs []*connecthub.Run
	err = s.write(ctx, func(tx *sqlx.Tx) error {
		if err := co.exec(ctx, tx); err != nil {
			return err
		}
		runs, err = cl.exec(ctx, tx)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if co.requeued {
		s.Publish(store.TopicRuns)
	}
	s.publishChains(co.chained)
	return co.applied, runs, nil
}
