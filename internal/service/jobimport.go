package service

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// ImportAction says what importing a job definition does to the job.
type ImportAction string

// The import actions, as `connecthub import --dry-run` prints them.
const (
	ImportCreate    ImportAction = "create"
	ImportUpdate    ImportAction = "update"
	ImportUnchanged ImportAction = "unchanged"
)

// JobImport saves a job definition that comes from another system (the
// Python ConnectHub) with the validation, encryption and planning of any
// save, and keeps the last slot that system fired. It is JobImportPlan
// followed, unless dryRun or unchanged, by a batch of that one job
// (ImportBatch); an import of many jobs plans each and writes them all
// in one batch instead.
func (s *Service) JobImport(ctx context.Context, in *connecthub.JobInput, lastRunAt *time.Time, dryRun bool) (ImportAction, *connecthub.Job, error) {
	act, before, after, err := s.JobImportPlan(ctx, in, lastRunAt)
	if err != nil || dryRun || act == ImportUnchanged {
		return act, after, err
	}
	if _, err := s.ImportBatch(ctx, connecthub.BatchSource{Files: []string{}},
		[]connecthub.BatchItem{{JobID: after.ID, Before: before, After: after}}); err != nil {
		return "", nil, err
	}
	return act, after, nil
}

// JobImportPlan decides what importing a job definition from another
// system does, without writing: the action, the stored job (nil when it
// does not exist) and the job to write.
//
// in holds the fields the other system defines (its secrets as a plain
// object, which is encrypted with this server's key); fields it leaves nil
// keep their defaults on create and their values on update, so settings an
// operator tuned here survive a second import. lastRunAt becomes the job's
// last_run_at when it is later than the one stored, and next_run_at is
// then planned from it: the first slot after it fires (late slots under
// the job's misfire policy) and no slot at or before it fires again. An
// import whose definition equals the job (secrets compared decrypted) and
// whose lastRunAt is not later is ImportUnchanged, with the stored job as
// both before and after.
func (s *Service) JobImportPlan(ctx context.Context, in *connecthub.JobInput, lastRunAt *time.Time) (ImportAction, *connecthub.Job, *connecthub.Job, error) {
	if in == nil || in.ID == nil {
		return "", nil, nil, connecthub.FieldError("id", "", "id is required")
	}
	nodes, err := s.nodesForSave(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	now := s.now()
	last := store.UTCMicroPtr(lastRunAt)
	existing, err := s.st.JobGet(ctx, *in.ID)
	if connecthub.IsKind(err, connecthub.KindNotFound) {
		j, sc, err := connecthub.NewJob(in, s.defaults, now)
		if err != nil {
			return "", nil, nil, err
		}
		if _, err := s.prepare(ctx, j, sc, nil, now, true, nodes); err != nil {
			return "", nil, nil, err
		}
		j.LastRunAt = last
		if err := s.planAfterLast(ctx, j); err != nil {
			return "", nil, nil, err
		}
		return ImportCreate, nil, j, nil
	}
	if err != nil {
		return "", nil, nil, err
	}
	upd := *in
	if same, err := s.sameSecrets(existing, in.SecretCfg); err != nil {
		return "", nil, nil, err
	} else if same {
		upd.SecretCfg = nil
	}
	j := *existing
	before := *existing
	sc, err := upd.ApplyTo(&j, now)
	if err != nil {
		return "", nil, nil, err
	}
	if _, err := s.prepare(ctx, &j, sc, &before, now, false, nodes); err != nil {
		return "", nil, nil, err
	}
	moved := last != nil && (before.LastRunAt == nil || last.After(*before.LastRunAt))
	replan := moved || before.CronExpr != j.CronExpr || before.Timezone != j.Timezone || before.Enabled != j.Enabled
	if !moved && !sc.Set && sameDefinition(&before, &j) {
		return ImportUnchanged, existing, existing, nil
	}
	if moved {
		j.LastRunAt = last
	}
	if replan {
		if err := s.planAfterLast(ctx, &j); err != nil {
			return "", nil, nil, err
		}
	}
	return ImportUpdate, existing, &j, nil
}

// planAfterLast sets next_run_at to the first slot after last_run_at (that
// the job's calendar lets through), for an enabled cron job that has one;
// otherwise the plan from now stands.
func (s *Service) planAfterLast(ctx context.Context, j *connecthub.Job) error {
	if !j.Enabled || j.CronExpr == "" || j.LastRunAt == nil {
		return nil
	}
	return s.plan(ctx, j, *j.LastRunAt)
}

// sameSecrets reports whether the job's stored secrets decrypt to the
// object raw holds (absent or null: no change asked, so the same). A
// fresh encryption differs every time, so only the plain values tell
// whether an import changes them.
func (s *Service) sameSecrets(j *connecthub.Job, raw json.RawMessage) (bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return true, nil
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		return false, connecthub.FieldError("secret_cfg", "", "secret_cfg must be a JSON object")
	}
	if j.SecretCfg == "" {
		return len(want) == 0, nil
	}
	have, err := s.keys.DecryptJSON(j.SecretCfg)
	if err != nil {
		// The stored secrets are unreadable: replacing them is the fix.
		return false, nil
	}
	return canonicalJSON(have) == canonicalJSON(want), nil
}

// canonicalJSON renders a decoded object with sorted keys and numbers in
// one form, so that equal values compare equal however they were decoded.
func canonicalJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var norm any
	if err := json.Unmarshal(b, &norm); err != nil {
		return ""
	}
	b, _ = json.Marshal(norm)
	return string(b)
}

// sameDefinition compares what an import may change of a job.
func sameDefinition(a, b *connecthub.Job) bool {
	return a.Description == b.Description && a.Enabled == b.Enabled && a.CronExpr == b.CronExpr &&
		a.Timezone == b.Timezone && a.Handler == b.Handler && canonicalRaw(a.PublicCfg) == canonicalRaw(b.PublicCfg)
}

func canonicalRaw(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	return canonicalJSON(v)
}
