package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/connecthub/connecthub"
)

// RevisionStore reads the revisions of jobs. Nothing writes them through
// it: every job write (JobCreate, JobUpdate, JobDelete, and any batch of
// job writes a driver offers) records the revision of its change in its
// own transaction, so a change is never stored without its revision nor a
// revision without its change.
//
// The rules of that recording, which every driver keeps:
//   - JobRevision decides what a change records. An update that changes
//     nothing of the definition nor the encrypted secret (a re-plan of
//     next_run_at, a disable of a disabled job) records nothing.
//   - Numbers count from 1 per job id, without gaps, and are never reused:
//     a job deleted and created again continues its numbering. Concurrent
//     changes of one job get distinct numbers.
//   - The first update or delete of a job that has no revision (it was
//     created before revisions were kept) first records its state before
//     the change as a RevisionBaseline revision.
//   - Deleting a job keeps its revisions.
type RevisionStore interface {
	// RevisionList returns a page of a job's revisions, newest first,
	// without their encrypted secrets (SecretCfg is ""), and the cursor
	// of the next page. The job need not exist any more; a job without
	// revisions has an empty list. CheckRevisionFilter applies.
	RevisionList(ctx context.Context, f connecthub.RevisionFilter) ([]*connecthub.Revision, string, error)
	// RevisionGet returns one revision with its encrypted secret
	// (for a restore); KindNotFound if there is none.
	RevisionGet(ctx context.Context, jobID string, revision int) (*connecthub.Revision, error)
	// RevisionDeletedJobs returns a page of the jobs that do not exist but
	// have revisions, by id, each with its newest revision (without its
	// secret), and the cursor of the next page (the last id).
	RevisionDeletedJobs(ctx context.Context, p DeletedJobsParams) ([]*connecthub.DeletedJob, string, error)
}

// DeletedJobsParams pages RevisionDeletedJobs: Cursor is the last job id
// of the previous page.
type DeletedJobsParams struct {
	Limit  int
	Cursor string
}

// SecretKindRevision is how SecretTokens reports a revision's token (its
// id is the revision's key, RevisionKey).
const SecretKindRevision = "revision"

// RevisionKey is the row id of a revision: the job id and the number,
// joined by a slash, which no job id contains.
func RevisionKey(jobID string, revision int) string {
	return jobID + "/" + strconv.Itoa(revision)
}

// Fingerprinter computes the keyed fingerprint of an encrypted
// secret_cfg. The store cannot decrypt; the service, which holds the
// keys, passes one in the context of its changes (WithFingerprinter).
type Fingerprinter func(token string) (*connecthub.SecretFingerprint, error)

type fingerprinterKey struct{}

// WithFingerprinter returns ctx carrying f, which the revisions recorded
// by writes made with ctx use to fingerprint their secrets. Without one
// a revision with a secret has no fingerprint, and a diff compares the
// encrypted secrets instead (equal tokens: unchanged; different: changed
// perhaps).
func WithFingerprinter(ctx context.Context, f Fingerprinter) context.Context {
	return context.WithValue(ctx, fingerprinterKey{}, f)
}

// revisionSource names the action and source of the changes of a context.
type revisionSource struct{ action, source string }

type revisionSourceKey struct{}

// WithRevisionSource returns ctx whose job writes record their revisions
// with action (RevisionRestore, RevisionApply, RevisionImport) and source
// (the batch, the restored revision; may be ""), instead of create or
// update. Deletes are recorded as RevisionDelete whatever ctx says, with
// its source.
func WithRevisionSource(ctx context.Context, action, source string) context.Context {
	return context.WithValue(ctx, revisionSourceKey{}, revisionSource{action, source})
}

// Bounds of a revision's text fields.
const (
	maxRevisionSource = 200
	maxRevisionActor  = 160
)

var revisionActions = []string{connecthub.RevisionCreate, connecthub.RevisionUpdate, connecthub.RevisionDelete,
	connecthub.RevisionRestore, connecthub.RevisionApply, connecthub.RevisionImport, connecthub.RevisionBaseline}

// revisionSkip are the job's JSON fields a definition leaves out: what the
// server maintains, and the secrets, which a revision keeps apart.
var revisionSkip = []string{"last_run_at", "next_run_at", "created_at", "updated_at", "last_run", "durations",
	"has_secret", "secret_keys"}

// JobDefinition is the definition a revision stores: the job's JSON
// without the fields in revisionSkip, with its keys sorted (at every
// depth) and numbers as written, so that equal definitions are equal
// bytes.
func JobDefinition(j *connecthub.Job) (json.RawMessage, error) {
	public, err := JobPublicCfg(j)
	if err != nil {
		return nil, err
	}
	c := *j
	c.PublicCfg = json.RawMessage(public)
	raw, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode the definition of job %s: %w", j.ID, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode the definition of job %s: %w", j.ID, err)
	}
	for _, k := range revisionSkip {
		delete(m, k)
	}
	return json.Marshal(m)
}

// JobRevision decides the revision a change of a job records, in ctx
// (its audit entry names the actor and time; WithRevisionSource and
// WithFingerprinter apply). op is RevisionCreate (before is nil),
// RevisionUpdate or RevisionDelete (after is nil). It returns nil when an
// update changed neither the definition nor the encrypted secret. The
// number is left 0: the driver assigns it.
func JobRevision(ctx context.Context, op string, before, after *connecthub.Job) (*connecthub.Revision, error) {
	state := after
	switch {
	case op == connecthub.RevisionCreate && before == nil && after != nil:
	case op == connecthub.RevisionUpdate && before != nil && after != nil:
	case op == connecthub.RevisionDelete && before != nil && after == nil:
		state = before
	default:
		return nil, fmt.Errorf("store: JobRevision(%q) called with the wrong jobs", op)
	}
	def, err := JobDefinition(state)
	if err != nil {
		return nil, err
	}
	if op == connecthub.RevisionUpdate {
		prev, err := JobDefinition(before)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(prev, def) && before.SecretCfg == after.SecretCfg {
			return nil, nil
		}
	}
	action, source := op, ""
	if rs, ok := ctx.Value(revisionSourceKey{}).(revisionSource); ok {
		source = rs.source
		if op != connecthub.RevisionDelete {
			action = rs.action
		}
	}
	return newRevision(ctx, state, action, source, def), nil
}

// BaselineRevision is the RevisionBaseline revision of a job that has
// none, recorded before its first change: its state then, by the system,
// at its last update.
func BaselineRevision(ctx context.Context, j *connecthub.Job) (*connecthub.Revision, error) {
	def, err := JobDefinition(j)
	if err != nil {
		return nil, err
	}
	r := newRevision(ctx, j, connecthub.RevisionBaseline, "", def)
	r.Actor, r.ActorKind = connecthub.ActorSystem, connecthub.ActorSystem
	if !j.UpdatedAt.IsZero() {
		r.At = UTCMicro(j.UpdatedAt)
	}
	return r, nil
}

// newRevision builds a revision of state by the context's actor.
func newRevision(ctx context.Context, state *connecthub.Job, action, source string, def json.RawMessage) *connecthub.Revision {
	r := &connecthub.Revision{JobID: state.ID, Action: action, Source: source, Definition: def,
		SecretKeys: slices.Clone(state.SecretKeys), SecretCfg: state.SecretCfg,
		Actor: connecthub.ActorSystem, ActorKind: connecthub.ActorSystem}
	if r.SecretKeys == nil {
		r.SecretKeys = []string{}
	}
	// The store does not read the clock for decisions; a revision's time
	// is the time of its audit entry, which every service change carries.
	// A write made without one (a test, a tool) is stamped when it runs.
	r.At = UTCMicro(time.Now())
	if p, _ := ctx.Value(pendingAuditKey{}).(*pendingAudit); p != nil && p.entry != nil {
		r.Actor, r.ActorKind = AuditValue(p.entry.Actor), p.entry.ActorKind
		if !p.entry.At.IsZero() {
			r.At = UTCMicro(p.entry.At)
		}
	}
	if len(r.Actor) > maxRevisionActor {
		r.Actor = strings.ToValidUTF8(r.Actor[:maxRevisionActor], "")
	}
	if f, _ := ctx.Value(fingerprinterKey{}).(Fingerprinter); f != nil && state.SecretCfg != "" {
		// A token that does not decrypt leaves the revision without a
		// fingerprint rather than failing a change that is itself valid.
		if fp, err := f(state.SecretCfg); err == nil {
			r.Fingerprint = fp
		}
	}
	return r
}

// CheckRevision checks a revision before a driver writes it.
func CheckRevision(r *connecthub.Revision) error {
	switch {
	case r == nil:
		return connecthub.Errorf(connecthub.KindInvalid, "revision is required")
	case connecthub.ValidateID(r.JobID) != nil:
		return connecthub.FieldError("job_id", "", "revision of an invalid job id %q", r.JobID)
	case !slices.Contains(revisionActions, r.Action):
		return connecthub.FieldError("action", "", "revision action %q is not one of %s", r.Action, strings.Join(revisionActions, ", "))
	case r.At.IsZero():
		return connecthub.FieldError("at", "", "revision time is required")
	case r.Actor == "" || r.ActorKind == "" || len(r.Actor) > maxRevisionActor || len(r.ActorKind) > 32:
		return connecthub.FieldError("actor", "", "revision actor and its kind are required (at most %d and 32 bytes)", maxRevisionActor)
	case len(r.Source) > maxRevisionSource:
		return connecthub.FieldError("source", "", "revision source is longer than %d bytes", maxRevisionSource)
	case !connecthub.IsJSONObject(r.Definition):
		return connecthub.FieldError("definition", "", "revision definition must be a JSON object")
	}
	for _, s := range append([]string{r.Actor, r.ActorKind, r.Source}, r.SecretKeys...) {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return connecthub.FieldError("revision", "", "revision text must be UTF-8 without NUL characters")
		}
	}
	return nil
}

// CheckRevisionFilter checks RevisionList's filter and returns the page
// limit and the number the page starts below (0: from the newest).
func CheckRevisionFilter(f connecthub.RevisionFilter) (limit, below int, err error) {
	if f.JobID == "" {
		return 0, 0, connecthub.FieldError("job_id", "", "job id is required")
	}
	if limit, err = PageLimit(f.Limit); err != nil {
		return 0, 0, err
	}
	if f.Cursor != "" {
		below, err = strconv.Atoi(f.Cursor)
		if err != nil || below <= 0 {
			return 0, 0, connecthub.FieldError("cursor", "", "cursor %q is not one this server gave", f.Cursor)
		}
	}
	return limit, below, nil
}

// RevisionCursor is the cursor of the page after one ending with r.
func RevisionCursor(r *connecthub.Revision) string { return strconv.Itoa(r.Revision) }

// EncodeRevisionSecrets is what both drivers store of a revision's secret
// key names and fingerprint: JSON texts.
func EncodeRevisionSecrets(r *connecthub.Revision) (keys, fingerprint string, err error) {
	k := r.SecretKeys
	if k == nil {
		k = []string{}
	}
	kb, err := json.Marshal(k)
	if err != nil {
		return "", "", err
	}
	if r.Fingerprint == nil {
		return string(kb), "", nil
	}
	fb, err := json.Marshal(r.Fingerprint)
	return string(kb), string(fb), err
}

// DecodeRevisionSecrets reads them back into r.
func DecodeRevisionSecrets(r *connecthub.Revision, keys, fingerprint []byte) error {
	if err := json.Unmarshal(keys, &r.SecretKeys); err != nil {
		return fmt.Errorf("decode the secret keys of revision %s: %w", RevisionKey(r.JobID, r.Revision), err)
	}
	if r.SecretKeys == nil {
		r.SecretKeys = []string{}
	}
	if len(fingerprint) == 0 {
		return nil
	}
	r.Fingerprint = &connecthub.SecretFingerprint{}
	if err := json.Unmarshal(fingerprint, r.Fingerprint); err != nil {
		return fmt.Errorf("decode the fingerprint of revision %s: %w", RevisionKey(r.JobID, r.Revision), err)
	}
	return nil
}

// CloneJob copies a job deeply enough that changing the copy's slices and
// raw JSON in place does not change j: a driver keeps the state before an
// update function runs, for the revision.
func CloneJob(j *connecthub.Job) *connecthub.Job {
	c := *j
	c.SecretKeys = slices.Clone(j.SecretKeys)
	c.PublicCfg = slices.Clone(j.PublicCfg)
	c.OnSuccess, c.OnFailure = slices.Clone(j.OnSuccess), slices.Clone(j.OnFailure)
	return &c
}

// RecordJobRevision is what a driver's job write does for revisions, in
// its transaction after the job's row was written: it decides the
// revision (JobRevision; nothing for an update that changed nothing),
// first records a baseline when an update or delete finds the job
// without revisions (hasRevisions reads that in the transaction), and
// inserts through insert, which assigns the number.
func RecordJobRevision(ctx context.Context, op string, before, after *connecthub.Job,
	hasRevisions func(jobID string) (bool, error), insert func(*connecthub.Revision) error) error {
	rev, err := JobRevision(ctx, op, before, after)
	if err != nil || rev == nil {
		return err
	}
	if op != connecthub.RevisionCreate {
		has, err := hasRevisions(before.ID)
		if err != nil {
			return err
		}
		if !has {
			base, err := BaselineRevision(ctx, before)
			if err != nil {
				return err
			}
			if err := insert(base); err != nil {
				return err
			}
		}
	}
	return insert(rev)
}

// ListDeletedJobs is RevisionDeletedJobs written once: read returns the
// last revisions of deleted jobs after the cursor's job id, in job id
// order, at most n of them; one more than the page tells whether there is
// a next one.
func ListDeletedJobs(p DeletedJobsParams, read func(cursor string, n int) ([]*connecthub.Revision, error)) ([]*connecthub.DeletedJob, string, error) {
	limit, err := PageLimit(p.Limit)
	if err != nil {
		return nil, "", err
	}
	revs, err := read(p.Cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, next := DeletedJobsPage(revs, limit)
	return out, next, nil
}

// DeletedJobsPage cuts the last revisions of deleted jobs, read with
// limit+1 rows in job id order, to a page of RevisionDeletedJobs.
func DeletedJobsPage(revs []*connecthub.Revision, limit int) ([]*connecthub.DeletedJob, string) {
	revs, next := Page(revs, limit, func(r *connecthub.Revision) string { return r.JobID })
	out := make([]*connecthub.DeletedJob, len(revs))
	for i, r := range revs {
		out[i] = &connecthub.DeletedJob{JobID: r.JobID, Last: r}
	}
	return out, next
}
