package store

import (
	"fmt"
	"time"

	"github.com/connecthub/connecthub"
)

// CancelSteps are the SQL primitives of RunCancel that a driver supplies
// for CancelRun.
type CancelSteps[Tx any] struct {
	// Status reads the run's status, its row locked for the transaction
	// where the dialect can; KindNotFound when there is none.
	Status func(tx Tx) (connecthub.RunStatus, error)
	// EndQueued makes the QUEUED run CANCELED (finished at now, error
	// connecthub.ReasonCanceled) and returns it as written.
	EndQueued func(tx Tx) (*connecthub.Run, error)
	// RequestCancel sets the RUNNING run's cancel request, tells the other
	// replicas (TopicCancel) where the dialect does, and returns the run as
	// written.
	RequestCancel func(tx Tx) (*connecthub.Run, error)
	// Publish tells this process's subscribers (Hub.Publish).
	Publish func(Topic)
}

// CancelRun is RunCancel's rule: in one transaction, a QUEUED run becomes
// CANCELED at once; a RUNNING run gets a cancel request, which its worker
// learns from its next heartbeat, and TopicCancel is published once it has
// committed; a run that has ended is KindConflict (run_finished) and
// nothing is written.
func CancelRun[Tx any](inTx InTx[Tx], id string, now time.Time, st CancelSteps[Tx]) (*connecthub.Run, error) {
	if err := CheckTime("now", now); err != nil {
		return nil, err
	}
	var (
		run       *connecthub.Run
		requested bool
	)
	err := inTx(func(tx Tx) error {
		status, err := st.Status(tx)
		if err != nil {
			return err
		}
		switch status {
		case connecthub.StatusQueued:
			run, err = st.EndQueued(tx)
		case connecthub.StatusRunning:
			requested = true
			run, err = st.RequestCancel(tx)
		default:
			return RunFinished(id, status)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if requested {
		st.Publish(TopicCancel)
	}
	return run, nil
}

// RunFinished refuses to cancel a run that has ended.
func RunFinished(id string, status connecthub.RunStatus) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "run_finished",
		Message: fmt.Sprintf("run %s already ended %s; it cannot be canceled", id, status)}
}
