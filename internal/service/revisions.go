package service

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// jsonFingerprinter is what a keyring offers to fingerprint secrets
// (secret.Keyring does); a keyring without it leaves revisions without
// fingerprints, and diffs then compare the encrypted secrets.
type jsonFingerprinter interface {
	FingerprintJSON(token string) (keyID string, values map[string]string, err error)
}

// withFingerprinter returns ctx whose job writes fingerprint the secrets
// of the revisions they record with this server's key.
func (s *Service) withFingerprinter(ctx context.Context) context.Context {
	f, ok := s.keys.(jsonFingerprinter)
	if !ok {
		return ctx
	}
	return store.WithFingerprinter(ctx, func(token string) (*connecthub.SecretFingerprint, error) {
		id, values, err := f.FingerprintJSON(token)
		if err != nil {
			return nil, err
		}
		return &connecthub.SecretFingerprint{KeyID: id, Values: values}, nil
	})
}

// RevisionList returns a page of a job's revisions, newest first, and the
// cursor of the next page. A job that neither exists nor has revisions is
// not found.
func (s *Service) RevisionList(ctx context.Context, f connecthub.RevisionFilter) ([]*connecthub.Revision, string, error) {
	if err := connecthub.ValidateID(f.JobID); err != nil {
		return nil, "", err
	}
	revs, next, err := s.st.RevisionList(ctx, f)
	if err != nil {
		return nil, "", err
	}
	if len(revs) == 0 && f.Cursor == "" {
		if _, err := s.st.JobGet(ctx, f.JobID); err != nil {
			return nil, "", err
		}
	}
	return revs, next, nil
}

// RevisionGet returns one revision of a job (its encrypted secret is never
// marshalled).
func (s *Service) RevisionGet(ctx context.Context, jobID string, n int) (*connecthub.Revision, error) {
	if err := checkRevisionNumber("revision", n); err != nil {
		return nil, err
	}
	return s.st.RevisionGet(ctx, jobID, n)
}

// DeletedJobs returns a page of the deleted jobs that have revisions,
// each with its last revision.
func (s *Service) DeletedJobs(ctx context.Context, p store.DeletedJobsParams) ([]*connecthub.DeletedJob, string, error) {
	return s.st.RevisionDeletedJobs(ctx, p)
}

func checkRevisionNumber(field string, n int) error {
	if n < 1 {
		return connecthub.FieldError(field, "", "%s must be a revision number (1 or more)", field)
	}
	return nil
}

// RevisionDiff compares two revisions of a job field by field.
func (s *Service) RevisionDiff(ctx context.Context, jobID string, from, to int) (*connecthub.RevisionDiff, error) {
	if err := checkRevisionNumber("from", from); err != nil {
		return nil, err
	}
	if err := checkRevisionNumber("to", to); err != nil {
		return nil, err
	}
	a, err := s.st.RevisionGet(ctx, jobID, from)
	if err != nil {
		return nil, err
	}
	b, err := s.st.RevisionGet(ctx, jobID, to)
	if err != nil {
		return nil, err
	}
	return &connecthub.RevisionDiff{JobID: jobID, From: from, To: to, Changes: DiffRevisions(a, b)}, nil
}

// DiffRevisions lists what differs from a to b: each definition field
// (sorted by name) with its values as text, then the secret key names,
// then which secret values changed by their fingerprints — never a value,
// not even encrypted. Fingerprints made with different keys (a key
// rotation in between) cannot tell, and the diff says so.
func DiffRevisions(a, b *connecthub.Revision) []connecthub.AuditChange {
	da, db := decodeDefinition(a.Definition), decodeDefinition(b.Definition)
	names := make([]string, 0, len(da)+len(db))
	for k := range da {
		names = append(names, k)
	}
	for k := range db {
		names = append(names, k)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	changes := []connecthub.AuditChange{}
	for _, k := range names {
		if canonicalRaw(da[k]) != canonicalRaw(db[k]) {
			changes = append(changes, connecthub.AuditChange{Field: k, Before: rawText(da[k]), After: rawText(db[k])})
		}
	}
	ka, kb := sortedKeys(a.SecretKeys), sortedKeys(b.SecretKeys)
	if !slices.Equal(ka, kb) {
		changes = append(changes, connecthub.AuditChange{Field: "secret_keys", Before: strings.Join(ka, ", "), After: strings.Join(kb, ", ")})
	}
	if c, ok := secretChange(a, b); ok {
		changes = append(changes, c)
	}
	return changes
}

// secretChange tells whether the secret values differ between a and b.
func secretChange(a, b *connecthub.Revision) (connecthub.AuditChange, bool) {
	c := connecthub.AuditChange{Field: "secret_cfg"}
	if a.SecretCfg == b.SecretCfg {
		return c, false // the very same encrypted secret
	}
	fa, fb := a.Fingerprint, b.Fingerprint
	if (a.SecretCfg == "") != (b.SecretCfg == "") {
		c.Before, c.After = secretState(a), secretState(b)
		return c, true
	}
	if fa == nil || fb == nil || fa.KeyID != fb.KeyID {
		c.After = "values may have changed (no comparable fingerprint: the secret was re-encrypted or the key rotated)"
		return c, true
	}
	var changed []string
	for k, v := range fa.Values {
		if fb.Values[k] != v {
			changed = append(changed, k)
		}
	}
	for k := range fb.Values {
		if _, ok := fa.Values[k]; !ok {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return c, false // re-encrypted, same values
	}
	slices.Sort(changed)
	c.After = "keys [" + strings.Join(changed, ", ") + "] changed"
	return c, true
}

func secretState(r *connecthub.Revision) string {
	if r.SecretCfg == "" {
		return "none"
	}
	return "keys [" + strings.Join(sortedKeys(r.SecretKeys), ", ") + "]"
}

func sortedKeys(k []string) []string {
	out := slices.Clone(k)
	slices.Sort(out)
	return out
}

func decodeDefinition(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	return m
}

// rawText shows a JSON value as text: a string without quotes, "" for
// an absent field.
func rawText(raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") == nil {
		return buf.String()
	}
	return string(raw)
}

// RevisionRestore makes revision n of a job its current definition,
// secrets included (the encrypted copy the revision kept), and records it
// as a new revision with action restore. A deleted job is created again.
// The result is validated like a save (a handler that no longer exists,
// a calendar that was deleted, a config its schema refuses: a 400 naming
// the field), and a shell job needs an admin like any shell edit.
func (s *Service) RevisionRestore(ctx context.Context, jobID string, n int) (*connecthub.Job, []Warning, error) {
	rev, err := s.RevisionGet(ctx, jobID, n)
	if err != nil {
		return nil, nil, err
	}
	nodes, err := s.nodesForSave(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	source := "revision " + strconv.Itoa(n)
	actx, audit := s.audited(ctx, "job.restore", "job:"+jobID)
	audit.Detail = "from " + source
	actx = store.WithRevisionSource(actx, connecthub.RevisionRestore, source)
	var warnings []Warning
	_, err = s.st.JobGet(ctx, jobID)
	if isNotFound(err) {
		j := &connecthub.Job{CreatedAt: now}
		if err := restoreOnto(j, rev, now); err != nil {
			return nil, nil, err
		}
		if err := requireShellAdmin(ctx, j.Handler); err != nil {
			return nil, nil, err
		}
		if warnings, err = s.prepare(ctx, j, connecthub.SecretChange{}, nil, now, true, nodes); err != nil {
			return nil, nil, err
		}
		audit.Changes = store.JobAuditChanges(nil, j)
		if err := s.st.JobCreate(actx, j); err != nil {
			return nil, nil, err
		}
		return j, warnings, nil
	}
	if err != nil {
		return nil, nil, err
	}
	j, err := s.st.JobUpdate(actx, jobID, func(j *connecthub.Job) error {
		before := *j
		if err := restoreOnto(j, rev, now); err != nil {
			return err
		}
		if err := requireShellAdmin(ctx, before.Handler, j.Handler); err != nil {
			return err
		}
		var err error
		warnings, err = s.prepare(ctx, j, connecthub.SecretChange{}, &before, now, false, nodes)
		audit.Changes = store.JobAuditChanges(&before, j)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return j, warnings, nil
}

// restoreOnto writes a revision's definition and secrets over j. Fields
// the revision does not name (added to jobs after it was recorded) keep
// j's values; what the server maintains is left to prepare.
func restoreOnto(j *connecthub.Job, rev *connecthub.Revision, now time.Time) error {
	if err := json.Unmarshal(rev.Definition, j); err != nil {
		return connecthub.Errorf(connecthub.KindInvalid, "revision %d of job %s cannot be read back: %v", rev.Revision, rev.JobID, err)
	}
	if j.ID != rev.JobID {
		return connecthub.FieldError("id", "", "revision %d names job %q, not %q", rev.Revision, j.ID, rev.JobID)
	}
	j.SecretCfg, j.SecretKeys, j.HasSecret = rev.SecretCfg, slices.Clone(rev.SecretKeys), rev.SecretCfg != ""
	if j.SecretKeys == nil {
		j.SecretKeys = []string{}
	}
	j.UpdatedAt = now
	return nil
}
