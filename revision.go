package connecthub

import (
	"encoding/json"
	"time"
)

// Revision actions: what a change did to a job. A delete is always
// recorded as RevisionDelete; the other changes are create or update
// unless the change came from somewhere that names itself (a restore, a
// configuration apply, an import), which then names the action.
const (
	RevisionCreate  = "create"
	RevisionUpdate  = "update"
	RevisionDelete  = "delete"
	RevisionRestore = "restore"
	RevisionApply   = "apply"
	RevisionImport  = "import"
	// RevisionBaseline records the definition a job had before the server
	// kept revisions (it was created by an older version): it is written
	// just before the first change the newer server records, so that the
	// job's earlier state can still be restored.
	RevisionBaseline = "baseline"
)

// Revision is one stored state of a job: its definition after a change
// (before it, for a delete), who made the change, how and when.
//
// Numbers count from 1 per job id without gaps and are never reused, not
// even after the job was deleted and created again: the revisions of a
// deleted job stay, so that it can be restored.
//
// The secrets are kept three ways, none of them readable: their key
// names, a keyed fingerprint of each value (which tells whether a value
// changed between two revisions without revealing it), and the encrypted
// secret_cfg exactly as the job stored it, which a restore writes back.
type Revision struct {
	JobID    string `json:"job_id"`
	Revision int    `json:"revision"`
	Action   string `json:"action"`
	Actor    string `json:"actor"`
	// ActorKind is the kind of principal (session, token, admin token) or
	// system when the server made the change itself.
	ActorKind string `json:"actor_kind"`
	// Source says where a change came from when its action alone does not
	// (the batch of an apply, the revision a restore brought back).
	Source string    `json:"source,omitempty"`
	At     time.Time `json:"at"`
	// Definition is the job's JSON without what the server maintains
	// (last_run_at, next_run_at, created_at, updated_at, last run
	// statistics) and without the secret fields, which follow.
	Definition  json.RawMessage    `json:"definition"`
	SecretKeys  []string           `json:"secret_keys"`
	Fingerprint *SecretFingerprint `json:"secret_fingerprint,omitempty"`
	// SecretCfg is the encrypted secret_cfg ("" for none). It is never
	// marshalled and never decrypted for display.
	SecretCfg string `json:"-"`
}

// SecretFingerprint is a keyed fingerprint of a job's secret values: for
// each key, HMAC-SHA256 of its name and value under a key derived from
// the server's encryption key. A plain hash would not do: a short secret
// (a PIN, a six-letter password) is found by hashing guesses, while the
// HMAC cannot be computed without the server's key. KeyID names the key
// the fingerprints were made with; fingerprints made with different keys
// (before and after a key rotation) cannot be compared.
type SecretFingerprint struct {
	KeyID  string            `json:"key_id"`
	Values map[string]string `json:"values"`
}

// RevisionFilter pages a job's revisions, newest first: Cursor is the
// number of the last revision of the previous page.
type RevisionFilter struct {
	JobID  string
	Limit  int
	Cursor string
}

// DeletedJob is a job that no longer exists but whose revisions do: its
// last revision (normally its delete) says who deleted it, when, and
// what it was.
type DeletedJob struct {
	JobID string    `json:"job_id"`
	Last  *Revision `json:"last_revision"`
}

// RevisionDiff is the field-level difference between two revisions of a
// job. The secrets appear as key names and whether values changed, never
// as values.
type RevisionDiff struct {
	JobID   string        `json:"job_id"`
	From    int           `json:"from"`
	To      int           `json:"to"`
	Changes []AuditChange `json:"changes"`
}
