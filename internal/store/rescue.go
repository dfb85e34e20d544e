package store

import (
	"time"

	"github.com/connecthub/connecthub"
)

// RescueCandidate is what the rescue rules need to know of a RUNNING run
// whose worker is gone: its lease expired (RunRescue) or its node went
// silent (NodeMarkDead).
type RescueCandidate struct {
	ID                   string
	Node                 string
	Attempt, MaxAttempts int
	// History is the run's stored attempts column.
	History         []byte
	StartedAt       *time.Time
	CancelRequested bool
}

// Rescue is what a rescue writes on one run, with Error
// connecthub.ReasonWorkerLost either way and the lease cleared.
type Rescue struct {
	// Requeue: the run becomes QUEUED again with attempt+1, available at
	// once, its node, heartbeat, start, traceback and result cleared, and
	// History (the lost attempt appended as FAILURE "worker lost") as its
	// attempts column.
	Requeue bool
	History string
	// Status, when not Requeue, is the terminal status the run ends in,
	// finished now: CANCELED when its cancel was requested (its worker is
	// gone, and running it again is the opposite of what was asked), else
	// FAILURE (no attempts left).
	Status connecthub.RunStatus
	Error  string
}

// DecideRescue applies the rescue rules to one run at now.
func DecideRescue(c *RescueCandidate, now time.Time) (Rescue, error) {
	d := Rescue{Error: connecthub.ReasonWorkerLost}
	switch {
	case c.CancelRequested:
		d.Status = connecthub.StatusCanceled
	case c.Attempt >= c.MaxAttempts:
		d.Status = connecthub.StatusFailure
	default:
		history, err := AppendAttempt(c.History, connecthub.Attempt{
			Attempt: c.Attempt, Node: c.Node, StartedAt: c.StartedAt,
			FinishedAt: now, Status: connecthub.StatusFailure, Error: connecthub.ReasonWorkerLost,
		})
		if err != nil {
			return d, err
		}
		d.Requeue, d.History, d.Status = true, history, connecthub.StatusQueued
	}
	return d, nil
}
