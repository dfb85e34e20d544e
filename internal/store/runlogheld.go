package store

import (
	"context"

	"github.com/connecthub/connecthub"
)

// HeldLogStore appends log lines on behalf of the node that holds a run.
type HeldLogStore interface {
	// RunLogAppendHeld appends p.Chunk to the log of run p.RunID only if
	// the run is RUNNING on p.Node in attempt p.Attempt (in any attempt
	// when p.Attempt is 0), and reports whether it did. The check and the
	// write are one statement (or one write transaction whose first
	// statement carries the check), so a rescue that lands between a
	// worker's check and its write cannot let a stalled attempt's lines
	// into a later attempt's log. A run that is not held that way, or
	// does not exist, is not an error: nothing is written and the result
	// is false. When p.Held is set, the run's held part becomes *p.Held
	// for p.Attempt in the same statement, under the same check. A call
	// with an empty chunk and no held part writes nothing and returns
	// false.
	RunLogAppendHeld(ctx context.Context, p RunLogAppendParams) (bool, error)
	// RunLogHeldGet returns the held part of the run's log that attempt
	// left (a token, "" when none): the end of what a remote worker sent
	// that may be the beginning of a secret its next request completes.
	// A part another attempt left is not returned.
	RunLogHeldGet(ctx context.Context, runID string, attempt int) (string, error)
}

// SecretKindRunLogHeld is how SecretTokens reports a held log part's token.
const SecretKindRunLogHeld = "run_log_held"

// RunLogAppendParams names a log append and the holder it is made for.
type RunLogAppendParams struct {
	RunID string
	// Node is the node that must hold the run.
	Node string
	// Attempt is the attempt the node must hold, 0 for whichever it holds.
	Attempt int
	Chunk   string
	// Held, when set, replaces the run's held log part: an encrypted
	// token, or "" for none. It needs an Attempt.
	Held *string
}

// Validate checks a held log append before anything is written: the run
// and the node are required and the attempt is between 0 and 2^31-1.
func (p *RunLogAppendParams) Validate() error {
	switch {
	case p.RunID == "":
		return connecthub.FieldError("id", "", "run id is required")
	case p.Node == "":
		return connecthub.FieldError("node", "", "node is required")
	case p.Attempt < 0 || p.Attempt > maxInt:
		return connecthub.FieldError("attempt", "", "attempt must be between 0 and %d", maxInt)
	case p.Held != nil && p.Attempt == 0:
		return connecthub.FieldError("attempt", "", "a held log part needs the attempt it belongs to")
	}
	return nil
}
