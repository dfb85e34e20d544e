package store

import (
	"context"
	"fmt"

	"github.com/connecthub/connecthub"
)

// JobSteps are the SQL primitives of JobCreate, JobUpdate, JobDelete and
// BatchWrite that a driver supplies; CreateJob, UpdateJob, DeleteJob and
// WriteBatch decide when each runs, so that every job change writes the
// job, its revision and whatever else commits with it in one transaction,
// the same way in every driver.
type JobSteps[Tx any] struct {
	// CheckText refuses text the dialect cannot store (KindInvalid naming
	// the field), before any transaction; nil when it stores all.
	CheckText func(j *connecthub.Job) error
	// Read reads the job, locked for the transaction where the dialect
	// can; KindNotFound when there is none.
	Read func(tx Tx, id string) (*connecthub.Job, error)
	// CheckChains refuses a job whose chains name itself or a job that
	// does not exist, or would close a cycle (the chain rules of a write),
	// holding what it read until the transaction ends.
	CheckChains func(tx Tx, j *connecthub.Job) error
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
	// Record writes a change's revision with RecordJobRevision (op one of
	// connecthub.RevisionCreate, RevisionUpdate, RevisionDelete, or a
	// batch's, BatchRevisionOp); ctx carries who made it and why.
	Record func(ctx context.Context, tx Tx, op string, before, after *connecthub.Job) error
	// Notify, when not nil, tells the other replicas that jobs changed,
	// once a transaction commits; the rules call it once per transaction.
	Notify func(tx Tx) error
	// Publish tells this process's subscribers (Hub.Publish); the rules
	// publish TopicJobs once a change has committed.
	Publish func(Topic)
}

// notify runs Notify where the driver has one.
func (st JobSteps[Tx]) notify(tx Tx) error {
	if st.Notify == nil {
		return nil
	}
	return st.Notify(tx)
}

// change runs fn, then Notify, in one transaction of inTx, and publishes
// TopicJobs once it has committed: the frame of every job change but
// UpdateJob's (which is Modify's).
func (st JobSteps[Tx]) change(inTx InTx[Tx], fn func(tx Tx) error) error {
	err := inTx(func(tx Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return st.notify(tx)
	})
	if err != nil {
		return err
	}
	st.Publish(TopicJobs)
	return nil
}

// checkText runs CheckText where the driver has one.
func (st JobSteps[Tx]) checkText(j *connecthub.Job) error {
	if st.CheckText == nil {
		return nil
	}
	return st.CheckText(j)
}

// CreateJob is JobCreate's rule: the job is checked (CheckNewJob and the
// dialect's text) before any transaction starts; then, in one
// transaction, the chain rules are applied, the job is inserted and its
// create revision recorded; TopicJobs is published once it has committed.
// A taken id is JobExists, and nothing is written.
func CreateJob[Tx any](ctx context.Context, inTx InTx[Tx], job *connecthub.Job, st JobSteps[Tx]) error {
	if err := CheckNewJob(job); err != nil {
		return err
	}
	if err := st.checkText(job); err != nil {
		return err
	}
	return st.change(inTx, func(tx Tx) error {
		if err := st.CheckChains(tx, job); err != nil {
			return err
		}
		if err := st.Insert(tx, job); err != nil {
			return err
		}
		return st.Record(ctx, tx, connecthub.RevisionCreate, nil, job)
	})
}

// DeleteJob is JobDelete's rule: in one transaction, a job that others
// chain to is refused, the job is deleted and its delete revision keeps it
// as it was; TopicJobs is published once it has committed. A job that does
// not exist is KindNotFound and records nothing.
func DeleteJob[Tx any](ctx context.Context, inTx InTx[Tx], id string, st JobSteps[Tx]) error {
	return st.change(inTx, func(tx Tx) error {
		if err := st.CheckDelete(tx, id); err != nil {
			return err
		}
		j, err := st.Delete(tx, id)
		if err != nil {
			return err
		}
		return st.Record(ctx, tx, connecthub.RevisionDelete, j, nil)
	})
}

// UpdateJob is JobUpdate's rule, on store.Modify: the update function is
// required; it runs on the job as read, in the write transaction; it may
// change everything but the id (KindInvalid, nothing written); the job is
// checked, written and its revision recorded with the job as it was
// before, all in that transaction; TopicJobs is published once it has
// committed. The function's own error reaches the caller unchanged.
func UpdateJob[Tx any](ctx context.Context, inTx InTx[Tx], id string, update func(*connecthub.Job) error, st JobSteps[Tx]) (*connecthub.Job, error) {
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
	job, err := Modify(inTx, read, update, func(tx Tx, j *connecthub.Job) (*connecthub.Job, error) {
		if j.ID != id {
			return nil, JobUpdateChangedID()
		}
		if err := st.checkText(j); err != nil {
			return nil, err
		}
		if err := st.CheckChains(tx, j); err != nil {
			return nil, err
		}
		after, err := st.Write(tx, j)
		if err != nil {
			return nil, err
		}
		if err := st.Record(ctx, tx, connecthub.RevisionUpdate, before, after); err != nil {
			return nil, err
		}
		return after, st.notify(tx)
	})
	if err != nil {
		return nil, err
	}
	st.Publish(TopicJobs)
	return job, nil
}

// JobExists is JobCreate's error when the id is taken; err is the
// database's unique violation, kept for logs.
func JobExists(id string, err error) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "job_exists", Args: []string{id},
		Message: fmt.Sprintf("job %q already exists", id), Err: err}
}
