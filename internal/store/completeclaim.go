package store

import (
	"context"

	"github.com/connecthub/connecthub"
)

// RunCompleteClaimer is implemented by drivers that can record outcomes
// and claim the next runs in one call. A worker whose handlers finish
// together ends one batch of runs and starts the next at the same moment;
// doing both in one transaction halves the transactions (and, on a durable
// PostgreSQL, the WAL flushes each commit waits for) per batch, which is
// what bounds throughput when few workers cycle through short runs.
//
// It is optional: a caller that finds a store without it calls RunComplete
// and RunClaim instead, with the same effect.
type RunCompleteClaimer interface {
	// RunCompleteAndClaim records outcomes exactly as RunComplete does,
	// then claims exactly as RunClaim does with claim, and returns both
	// results. The claim sees the outcomes' changes: a run that an outcome
	// re-queues, available at once, may be claimed again by the same call
	// (as a new attempt when the outcome consumed one).
	//
	// Invalid outcomes or claim parameters are KindInvalid and change
	// nothing. Terminal outcomes for distinct runs (the hot path) and the
	// claim are one transaction: both happen or neither. A batch with
	// re-queues or naming a run twice may take two (the outcomes', then the
	// claim's); when the claim fails there the outcomes stay recorded and
	// the error is returned, which a caller handles as it handles a
	// RunComplete whose commit may have happened unseen: outcomes carry
	// their attempt, so recording them again changes nothing.
	RunCompleteAndClaim(ctx context.Context, outcomes []RunOutcome, claim RunClaimParams) ([]bool, []*connecthub.Run, error)
	// CompleteAndClaimPays reports whether one combined call beats a
	// completion and a claim made at the same time. It does where the
	// driver serializes writes anyway (SQLite's single writer: the two
	// calls would wait for each other, and one transaction saves a commit).
	// Where the two calls run in parallel on separate connections
	// (PostgreSQL), they measured faster than the combined call, whose
	// statements run one after the other, even on a durable server where
	// the combined call saves a WAL flush (docs/benchmarks.md); such a
	// driver offers the call for callers that need the atomic swap, and
	// reports false.
	CompleteAndClaimPays() bool
}
