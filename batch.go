package connecthub

import (
	"encoding/json"
	"fmt"
	"time"
)

// Batch actions: what recorded a batch.
const (
	BatchApply    = "apply"    // connecthub apply (configuration as code)
	BatchImport   = "import"   // connecthub import python
	BatchRollback = "rollback" // connecthub rollback of an earlier batch
)

// Batch item operations: what a batch did to one job.
const (
	BatchCreate = "create"
	BatchUpdate = "update"
	BatchDelete = "delete"
)

// BatchSource says where a batch's definitions came from: the files an
// apply read and the SHA-256 of their contents, so that a batch can be
// traced to a commit of the repository that holds them.
type BatchSource struct {
	Files []string `json:"files"`
	Hash  string   `json:"hash"`
}

// Batch is a set of job changes written in one transaction: an apply of
// definition files, an import, or the rollback of an earlier batch. It
// records, for every job it touched, the job's state before and after, so
// that it can be rolled back exactly and refused when a job changed since.
type Batch struct {
	ID         int64       `json:"id"`
	Actor      string      `json:"actor"`
	CreatedAt  time.Time   `json:"created_at"`
	Action     string      `json:"action"`
	Source     BatchSource `json:"source"`
	RollbackOf int64       `json:"rollback_of,omitempty"`
	// Created, Updated and Deleted count the items by operation.
	Created int `json:"created"`
	Updated int `json:"updated"`
	Deleted int `json:"deleted"`
	// Items are the touched jobs; lists leave them out (nil).
	Items []BatchItem `json:"items,omitempty"`
}

// BatchItem is one job a batch touched. Before is nil when the job did
// not exist (a create), After nil when the batch deleted it. The jobs
// carry their encrypted secrets (SecretCfg), which the store keeps and a
// rollback writes back; their JSON never shows them.
type BatchItem struct {
	JobID  string `json:"job_id"`
	Op     string `json:"op"`
	Before *Job   `json:"before"`
	After  *Job   `json:"after"`
}

// BatchFilter pages the batch list, newest first.
type BatchFilter struct {
	Limit  int
	Cursor string
}

// BatchPlanItem is what applying a set of definitions does (or would do)
// to one job: create, update, delete or unchanged, with the fields that
// change. Secret values never appear: a secret change reads "keys [a, b]
// changed".
type BatchPlanItem struct {
	JobID   string        `json:"job_id"`
	Action  string        `json:"action"`
	Changes []AuditChange `json:"changes,omitempty"`
}

// BatchUnchanged is the plan action of a job whose file matches it.
const BatchUnchanged = "unchanged"

// BatchDocument is one job definition of an apply, with where it came
// from, so that an error names the file and the document in it. Job is
// the definition as a job input (see DecodeJobInput), its secret
// references already resolved to values by the client.
type BatchDocument struct {
	File  string          `json:"file"`
	Index int             `json:"index"`
	Job   json.RawMessage `json:"job"`
}

// BatchApplyRequest is the body of an apply: the definitions, whether
// jobs they do not name are deleted (Prune), and whether to only plan.
type BatchApplyRequest struct {
	Documents []BatchDocument `json:"documents"`
	Source    BatchSource     `json:"source"`
	Prune     bool            `json:"prune"`
	DryRun    bool            `json:"dry_run"`
}

// BatchApplyResult answers an apply: the plan, and the batch it recorded
// (nil for a dry run or when nothing changed).
type BatchApplyResult struct {
	Plan  []BatchPlanItem `json:"plan"`
	Batch *Batch          `json:"batch"`
}

// Changed reports whether a plan creates, updates or deletes anything.
func (r *BatchApplyResult) Changed() bool {
	for _, p := range r.Plan {
		if p.Action != BatchUnchanged {
			return true
		}
	}
	return false
}

// DocumentError names where in the applied files a problem is: the
// field, then the file, the document's position in it (from 1) and the
// job, so that a person can go straight to the line. The message starts
// with the field, so that it reads whole without it.
func DocumentError(file string, index int, jobID string, err error) error {
	where := fmt.Sprintf("%s, document %d", file, index+1)
	if jobID != "" {
		where += ", job " + jobID
	}
	e, ok := err.(*Error)
	if !ok {
		return fmt.Errorf("%s: %w", where, err)
	}
	out := *e
	if e.Field != "" {
		out.Message = e.Field + " (" + where + "): " + e.Message
	} else {
		out.Message = where + ": " + e.Message
	}
	return &out
}
