package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

var _ store.RunCompleteClaimer = (*Store)(nil)

// CompleteAndClaimPays implements store.RunCompleteClaimer: a claim and a
// completion sent at the same time run in parallel on two connections,
// and measured faster than the combined call (see the interface).
func (s *Store) CompleteAndClaimPays() bool { return false }

// RunCompleteAndClaim implements store.RunCompleteClaimer. Terminal
// outcomes for distinct runs (the hot path) and the claim are two
// statements sent in one pipelined batch, which PostgreSQL runs as one
// implicit transaction: one round trip and one commit, so one WAL flush on
// a durable server, where RunComplete and RunClaim take two of each. The
// completion comes first, so its locks are taken in id order as in
// RunComplete (see Lock order); the claim skips locked rows and never
// waits. A batch with re-queues, or naming a run twice, is rare (retries,
// shutdowns, lost leases): it is RunComplete then RunClaim.
func (s *Store) RunCompleteAndClaim(ctx context.Context, outcomes []store.RunOutcome, claim store.RunClaimParams) ([]bool, []*connecthub.Run, error) {
	csql, cargs, err := claimArgs(claim)
	if err != nil {
		return nil, nil, err
	}
	order, requeues, repeated, err := checkOutcomes(outcomes)
	if err != nil {
		return nil, nil, err
	}
	if len(outcomes) == 0 || requeues || repeated {
		applied, err := s.RunComplete(ctx, outcomes)
		if err != nil {
			return nil, nil, err
		}
		runs, err := s.RunClaim(ctx, claim)
		if err != nil {
			return nil, nil, err
		}
		return applied, runs, nil
	}

	applied := make([]bool, len(outcomes))
	args, index := completeBatchArgs(outcomes, order)
	b := &pgx.Batch{}
	b.Queue(completeBatchSQL, args...)
	// The claim's generic plan, but not its commit without a flush: the
	// outcomes share this transaction's commit.
	b.Queue(claimPlanSQL)
	b.Queue(csql, cargs...)
	var runs []*connecthub.Run
	err = s.sendBatch(ctx, b, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		if err := readApplied(rows, index, applied); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		runs, err = collectRuns(br.Query())
		return err
	})
	if err != nil {
		return nil, nil, dbErr(err)
	}
	// The runs whose end starts a chain were left alone: complete them
	// where their chains can start.
	if err := s.completeChained(ctx, outcomes, applied); err != nil {
		return nil, nil, err
	}
	sortClaimed(runs)
	return applied, runs, nil
}
