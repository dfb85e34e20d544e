package store

import (
	"time"

	"github.com/connecthub/connecthub"
)

// HeldRun is what the completion rules need to know of a run that is
// still RUNNING on the outcome's node (in its attempt).
type HeldRun struct {
	Attempt, MaxAttempts int
	// History is the run's stored attempts column.
	History         []byte
	StartedAt       *time.Time
	CancelRequested bool
}

// Completion is what one applied outcome writes.
type Completion struct {
	// Status is the run's new status: terminal (finished at the outcome's
	// Now, lease cleared, with the outcome's message, traceback and
	// result), or QUEUED.
	Status connecthub.RunStatus
	// Error is the run's error.
	Error string
	// Retry, with QUEUED, consumes an attempt: attempt+1, available at
	// AvailableAt, History as the attempts column, the outcome's message,
	// error and traceback kept. Without it, QUEUED is a hand-back: same
	// attempt, available at once, nothing else recorded.
	Retry       bool
	History     string
	AvailableAt time.Time
}

// DecideCompletion applies the completion rules to an outcome for a run
// its node still holds:
//   - a terminal outcome ends the run as it says;
//   - re-queueing (retry or hand-back) a run whose cancel was requested
//     ends it CANCELED instead (error the outcome's, or "canceled"), so
//     that a cancel is never lost;
//   - a retry of a run on its last attempt ends it FAILURE, so attempt
//     never exceeds max_attempts;
//   - a retry appends the attempt to the history as FAILURE with the
//     outcome's error and makes the run available at RetryAt (at once when
//     RetryAt is zero);
//   - a hand-back re-queues the same attempt, available at once.
func DecideCompletion(o *RunOutcome, cur *HeldRun) (Completion, error) {
	switch {
	case o.Status != connecthub.StatusQueued:
		return Completion{Status: o.Status, Error: o.Error}, nil
	case cur.CancelRequested:
		errText := o.Error
		if errText == "" {
			errText = connecthub.ReasonCanceled
		}
		return Completion{Status: connecthub.StatusCanceled, Error: errText}, nil
	case o.ConsumeAttempt && cur.Attempt >= cur.MaxAttempts:
		return Completion{Status: connecthub.StatusFailure, Error: o.Error}, nil
	case o.ConsumeAttempt:
		history, err := AppendAttempt(cur.History, connecthub.Attempt{
			Attempt: cur.Attempt, Node: o.Node, StartedAt: cur.StartedAt,
			FinishedAt: o.Now, Status: connecthub.StatusFailure, Error: o.Error,
		})
		if err != nil {
			return Completion{}, err
		}
		at := o.RetryAt
		if at.IsZero() {
			at = o.Now
		}
		return Completion{Status: connecthub.StatusQueued, Error: o.Error, Retry: true, History: history, AvailableAt: at}, nil
	default:
		return Completion{Status: connecthub.StatusQueued}, nil
	}
}
