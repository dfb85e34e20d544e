package store

import (
	"context"
	"time"

	"github.com/connecthub/connecthub"
)

// QueueStore pauses and resumes queues. A claim (RunClaim and
// RunCompleteAndClaim) never returns a run of a paused queue: the check is
// in the claim's own statement, so a claim that starts after QueuePause
// returns cannot take a run from the queue. Runs of a paused queue stay
// QUEUED and count in Stats like any other.
type QueueStore interface {
	// QueuePause pauses the queue (a valid queue name, KindInvalid
	// otherwise; it need not have runs yet). Pausing a paused queue keeps
	// its first pause and reports false.
	QueuePause(ctx context.Context, name, by string, now time.Time) (bool, error)
	// QueueResume resumes the queue; resuming a queue that is not paused
	// reports false and is not an error.
	QueueResume(ctx context.Context, name string) (bool, error)
	// QueuePausedList returns the paused queues by name; empty, never nil.
	QueuePausedList(ctx context.Context) ([]connecthub.PausedQueue, error)
}

// CheckQueuePause checks QueuePause's arguments.
func CheckQueuePause(name, by string, now time.Time) error {
	if err := connecthub.ValidateQueueName("queue", name); err != nil {
		return err
	}
	if len(by) > 256 {
		return connecthub.FieldError("paused_by", "", "paused_by must be at most 256 characters")
	}
	return CheckTime("now", now)
}
