package store

import (
	"fmt"

	"github.com/connecthub/connecthub"
)

// JobSteps are the SQL primitives of JobCreate, JobUpdate and JobDelete
// that a driver supplies; CreateJob, UpdateJob and DeleteJob decide when
// each runs, so that the three write a job, its revision and whatever else
// commits with a job change in one transaction, the same way in every
// driver. A method needs only the steps its rule names.
type JobSteps[Tx any] struct {
	// Read reads the job, locked for the transaction where the dialect
	// can; KindNotFound when there is none.
	Read func(tx Tx, id string) (*connecthub.Job, error)
	// Check refuses what the database cannot take (the chain checks, text
	// the dialect cannot store), before anything is written.
	Check func(tx Tx, j *connecthub.Job) error
	// Insert stores a new job; JobExists when its id is taken.
	Insert func(tx Tx, j *connecthub.Job) error
	// Write stores every column of the job but its id and returns the job
	// as stored.
	Write func(tx Tx, j *connecthub.Job) (*connecthub.Job, error)
	// CheckDelete refuses to delete a job others chain to
	// (ChainDeleteRefused), holding what it read until the transaction ends.
	CheckDelete func(tx Tx, id string) error
	// Delete deletes the job and returns it as it was; KindNotFound when
	// there is none. Its runs and their logs go with it.
	Delete func(tx Tx, id string) (*connecthub.Job, error)
	// Record writes the change's revision (RecordJobRevision, op one of
	// connecthub.RevisionCreate, RevisionUpdate, RevisionDelete) and
	// whatever else commits with a job change in this dialect.
	Record func(tx Tx, op string, before, after *connecthub.Job) error
}

// CreateJob is JobCreate's rule: the job is checked (CheckNewJob) before
// any transaction starts; then, in one transaction, the dialect's checks
// run, the job is inserted and its create revision recorded. A taken id
// is JobExists, and nothing is written.
func CreateJob[Tx any](inTx InTx[Tx], job *connecthub.Job, st JobSteps[Tx]) error {
	if err := CheckNewJob(job); err != nil {
		return err
	}
	return inTx(func(tx Tx) error {
		if err := st.Check(tx, job); err != nil {
			return err
		}
		if err := st.Insert(tx, job); err != nil {
			return err
		}
		return st.Record(tx, connecthub.RevisionCreate, nil, job)
	})
}

// DeleteJob is JobDelete's rule: in one transaction, a job that others
// chain to is refused, the job is deleted and its delete revision keeps it
// as it was. A job that does not exist is KindNotFound and records nothing.
func DeleteJob[Tx any](inTx InTx[Tx], id string, st JobSteps[Tx]) error {
	return inTx(func(tx Tx) error {
		if err := st.CheckDelete(tx, id); err != nil {
			return err
		}
		j, err := st.Delete(tx, id)
		if err != nil {
			return err
		}
		return st.Record(tx, connecthub.RevisionDelete, j, nil)
	})
}

// UpdateJob is JobUpdate's rule, on store.Modify: the update function is
// required; it runs on the job as read, in the write transaction; it may
// change everything but the id (KindInvalid, nothing written); the job is
// checked, written and its revision recorded with the job as it was
// before, all in that transaction. The function's own error reaches the
// caller unchanged.
func UpdateJob[Tx any](inTx InTx[Tx], id string, update func(*connecthub.Job) error, st JobSteps[Tx]) (*connecthub.Job, error) {
	if err := CheckJobUpdate(update); err != nil {
		return nil, err
	}
	var before *connecthub.Job
	read := func(tx Tx) (*connecthub.Job, error) {
		j, err := st.Read(tx, id)
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
		return after, st.Record(tx, connecthub.RevisionUpdate, before, after)
	})
}

// JobExists is JobCreate's error when the id is taken; err is the
// database's unique violation, kept for logs.
func JobExists(id string, err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "job_exists", Args: []string{id},
		Message: fmt.Sprintf("job %q already exists", id), Err: err}
}
