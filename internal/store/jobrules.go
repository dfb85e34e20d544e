package store

import (
	"fmt"

	"github.com/connecthub/connecthub"
)

// JobUpdateSteps are the SQL primitives of JobUpdate that a driver
// supplies; UpdateJob decides when each runs.
type JobUpdateSteps[Tx any] struct {
	// Read reads the job, locked for the transaction where the dialect
	// can; KindNotFound when there is none.
	Read func(tx Tx) (*connecthub.Job, error)
	// Check refuses what the database cannot take (the chain checks, text
	// the dialect cannot store), before anything is written.
	Check func(tx Tx, j *connecthub.Job) error
	// Write stores every column of the job but its id and returns the job
	// as stored.
	Write func(tx Tx, j *connecthub.Job) (*connecthub.Job, error)
	// Record writes the update's revision (RecordJobRevision) and whatever
	// else commits with a job change in this dialect.
	Record func(tx Tx, before, after *connecthub.Job) error
}

// UpdateJob is JobUpdate's rule, on store.Modify: the update function is
// required; it runs on the job as read, in the write transaction; it may
// change everything but the id (KindInvalid, nothing written); the job is
// checked, written and its revision recorded with the job as it was
// before, all in that transaction. The function's own error reaches the
// caller unchanged.
func UpdateJob[Tx any](inTx InTx[Tx], id string, update func(*connecthub.Job) error, st JobUpdateSteps[Tx]) (*connecthub.Job, error) {
	if err := CheckJobUpdate(update); err != nil {
		return nil, err
	}
	var before *connecthub.Job
	read := func(tx Tx) (*connecthub.Job, error) {
		j, err := st.Read(tx)
		if err != nil {
			return nil, err
		}
		before = CloneJob(j)
		return j, nil
	}
	return Modify(inTx, read, update, func(tx Tx, j *connecthub.Job) (*connecthub.Job, error) {
		if j.ID != id {
			return nil, JobUpdateChangedID()
		}
		if err := st.Check(tx, j); err != nil {
			return nil, err
		}
		after, err := st.Write(tx, j)
		if err != nil {
			return nil, err
		}
		return after, st.Record(tx, before, after)
	})
}

// JobExists is JobCreate's error when the id is taken; err is the
// database's unique violation, kept for logs.
func JobExists(id string, err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "job_exists", Args: []string{id},
		Message: fmt.Sprintf("job %q already exists", id), Err: err}
}
