// Package service holds ConnectHub's use cases — create a job, run it now,
// retry a run — between the transports (REST API, admin UI, CLI through the
// API) and the store. Everything a transport needs to validate, encrypt or
// compute lives here once, so the API and the admin UI cannot disagree.
package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
	"github.com/connecthub/connecthub/cron"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/store"
)

// Keyring encrypts and decrypts secret_cfg objects.
type Keyring interface {
	EncryptJSON(v map[string]any) (string, error)
	DecryptJSON(token string) (map[string]any, error)
}

// Config wires a Service.
type Config struct {
	Store    store.Store
	Keys     Keyring
	Registry *handler.Registry
	// Defaults are applied to new jobs (timezone, retry back-off).
	Defaults connecthub.JobDefaults
	// Nodes is the node registry: job saves accept handlers that only
	// registered nodes serve, and warn when no active node serves theirs.
	// nil means local handlers only, without warnings.
	Nodes NodeRegistry
	// DisabledHandlers names handlers this server knows but its
	// configuration switched off (shell without CONNECTHUB_ENABLE_SHELL).
	// A job naming one is refused even when a registered node advertises
	// it: a worker's registration must not turn on what the operator
	// turned off.
	DisabledHandlers []string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service implements the use cases.
type Service struct {
	st       store.Store
	keys     Keyring
	registry *handler.Registry
	nodes    NodeRegistry
	disabled []string
	defaults connecthub.JobDefaults
	now      func() time.Time
	log      *slog.Logger
	schemas  *schemaCache
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Registry == nil {
		return nil, errors.New("service: Store, Keys and Registry are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		st: cfg.Store, keys: cfg.Keys, registry: cfg.Registry, nodes: cfg.Nodes, disabled: slices.Clone(cfg.DisabledHandlers), defaults: cfg.Defaults,
		now: func() time.Time { return cfg.Now().UTC() }, log: cfg.Logger, schemas: newSchemaCache(),
	}, nil
}

// Registry returns the handler registry.
func (s *Service) Registry() *handler.Registry { return s.registry }

// JobCreate validates and stores a new job, like JobCreateWithWarnings,
// for callers that do not show warnings.
func (s *Service) JobCreate(ctx context.Context, in *connecthub.JobInput) (*connecthub.Job, error) {
	j, _, err := s.JobCreateWithWarnings(ctx, in)
	return j, err
}

// JobCreateWithWarnings validates and stores a new job. Secrets are
// encrypted before they reach the store; next_run_at is computed from now.
// The warnings say why its runs may not execute soon (see Warning).
func (s *Service) JobCreateWithWarnings(ctx context.Context, in *connecthub.JobInput) (*connecthub.Job, []Warning, error) {
	nodes, err := s.nodesForSave(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	j, sc, err := connecthub.NewJob(in, s.defaults, now)
	if err != nil {
		return nil, nil, err
	}
	if err := requireShellAdmin(ctx, j.Handler); err != nil {
		return nil, nil, err
	}
	warnings, err := s.prepare(ctx, j, sc, nil, now, true, nodes)
	if err != nil {
		return nil, nil, err
	}
	actx, audit := s.audited(ctx, "job.create", "job:"+j.ID)
	audit.Changes = store.JobAuditChanges(nil, j)
	if err := s.st.JobCreate(actx, j); err != nil {
		return nil, nil, err
	}
	return j, warnings, nil
}

// JobUpdate applies a partial update, like JobUpdateWithWarnings, for
// callers that do not show warnings.
func (s *Service) JobUpdate(ctx context.Context, id string, in *connecthub.JobInput) (*connecthub.Job, error) {
	j, _, err := s.JobUpdateWithWarnings(ctx, id, in)
	return j, err
}

// JobUpdateWithWarnings applies a partial update. The read-modify-write
// happens in one store transaction, so concurrent updates do not lose each
// other's fields. The node registry is read before that transaction, so
// the write lock is not held across a second query.
func (s *Service) JobUpdateWithWarnings(ctx context.Context, id string, in *connecthub.JobInput) (*connecthub.Job, []Warning, error) {
	nodes, err := s.nodesForSave(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	var warnings []Warning
	actx, audit := s.audited(ctx, "job.update", "job:"+id)
	j, err := s.st.JobUpdate(actx, id, func(j *connecthub.Job) error {
		before := *j
		sc, err := in.ApplyTo(j, now)
		if err != nil {
			return err
		}
		if err := requireShellAdmin(ctx, before.Handler, j.Handler); err != nil {
			return err
		}
		warnings, err = s.prepare(ctx, j, sc, &before, now, false, nodes)
		audit.Changes = store.JobAuditChanges(&before, j)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return j, warnings, nil
}

// JobSetEnabled enables or disables a job. Enabling re-plans from now, so a
// job that was off for a week does not catch up on the week; disabling
// clears next_run_at (it will not run) but keeps its runs.
func (s *Service) JobSetEnabled(ctx context.Context, id string, enabled bool) (*connecthub.Job, error) {
	now := s.now()
	action := "job.disable"
	if enabled {
		action = "job.enable"
	}
	return s.st.JobUpdate(s.Audited(ctx, action, "job:"+id), id, func(j *connecthub.Job) error {
		if j.Enabled == enabled {
			return nil
		}
		j.Enabled = enabled
		j.UpdatedAt = now
		return s.plan(ctx, j, now)
	})
}

// prepare validates j after an input was applied, checks its handler
// (this server's, or one a registered node serves) and its config against
// the handler's declared schema and secret keys, encrypts changed secrets,
// and re-plans next_run_at when the schedule changed. It returns the
// warnings of the save.
func (s *Service) prepare(ctx context.Context, j *connecthub.Job, sc connecthub.SecretChange, before *connecthub.Job, now time.Time, create bool, nodes []*connecthub.Node) ([]Warning, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	spec, warnings, err := s.resolveHandler(j, nodes, s.nodes != nil)
	if err != nil {
		return nil, err
	}
	if err := s.schemas.validate(spec, j.PublicCfg); err != nil {
		return nil, err
	}
	if sc.Set {
		if len(sc.Value) == 0 {
			j.SecretCfg, j.SecretKeys, j.HasSecret = "", nil, false
		} else {
			token, err := s.keys.EncryptJSON(sc.Value)
			if err != nil {
				return nil, fmt.Errorf("encrypt secret_cfg: %w", err)
			}
			j.SecretCfg = token
		}
	}
	if missing := missingKeys(spec.SecretKeys, j.SecretKeys); len(missing) > 0 {
		e := connecthub.FieldError("secret_cfg", "missing_secret", "secret_cfg is missing key(s) %s required by handler %q", strings.Join(missing, ", "), j.Handler)
		e.Args = []string{strings.Join(missing, ", "), j.Handler}
		return nil, e
	}
	cal, err := s.jobCalendar(ctx, j)
	if err != nil {
		return nil, err
	}
	if create || before.CronExpr != j.CronExpr || before.Timezone != j.Timezone || before.Enabled != j.Enabled ||
		before.Calendar != j.Calendar || before.CalendarMode != j.CalendarMode {
		if err := s.planIn(j, cal, now); err != nil {
			return nil, err
		}
	}
	return append(warnings, calendarWarnings(j, cal, now)...), nil
}

// plan sets next_run_at to the first slot after now that the job's
// calendar lets through, for an enabled job with a cron expression, and
// clears it otherwise.
func (s *Service) plan(ctx context.Context, j *connecthub.Job, now time.Time) error {
	cal, err := s.jobCalendar(ctx, j)
	if err != nil {
		return err
	}
	return s.planIn(j, cal, now)
}

// planIn is plan with the job's calendar already read (nil for none).
func (s *Service) planIn(j *connecthub.Job, cal *calendar.Calendar, now time.Time) error {
	if !j.Enabled || j.CronExpr == "" {
		j.NextRunAt = nil
		return nil
	}
	next, err := j.NextFireIn(now, cal)
	if err != nil {
		return connecthub.FieldError("cron_expr", "invalid_cron", "%s", err.Error())
	}
	j.NextRunAt = next
	return nil
}

func missingKeys(required, have []string) []string {
	set := make(map[string]bool, len(have))
	for _, k := range have {
		set[k] = true
	}
	var missing []string
	for _, k := range required {
		if !set[k] {
			missing = append(missing, k)
		}
	}
	return missing
}

// JobGet returns one job.
func (s *Service) JobGet(ctx context.Context, id string) (*connecthub.Job, error) {
	j, err := s.st.JobGet(ctx, id)
	if err != nil {
		return nil, err
	}
	return j, s.withJobStats(ctx, j)
}

// JobList lists a page of the jobs that f selects, and the cursor of the
// next page ("" after the last).
func (s *Service) JobList(ctx context.Context, f connecthub.JobFilter) ([]*connecthub.Job, string, error) {
	jobs, next, err := s.st.JobList(ctx, f)
	if err != nil {
		return nil, "", err
	}
	return jobs, next, s.FillLastRuns(ctx, jobs...)
}

// JobDelete deletes a job and its runs.
func (s *Service) JobDelete(ctx context.Context, id string) error {
	return s.st.JobDelete(s.Audited(ctx, "job.delete", "job:"+id), id)
}

// RunNow enqueues a run from the job's current definition; it works on
// disabled jobs too.
func (s *Service) RunNow(ctx context.Context, jobID, requestedBy string) (*connecthub.Run, error) {
	r, _, err := s.RunNowKeyed(ctx, jobID, requestedBy, nil, "")
	return r, err
}

// RunNowKeyed is RunNow with parameters and an Idempotency-Key.
//
// params (a JSON object, or empty) is merged over the job's public_cfg as
// a JSON merge patch for this run only, the result is checked against the
// handler's schema like a save is (a 400 on the params field), and both
// are recorded in the snapshot.
//
// key (empty for none) makes the request safe to send again: the first
// request with a key makes the run and records the key with it; a later
// request for the same job with the same key makes nothing and gets that
// run back (replayed true), whatever happened to the run since, so a
// client may send a request again when it does not know whether the first
// one arrived. A later request with the same key but other params is
// refused (422, idempotency_key_reused): it is not the same request. Two
// requests with one key racing each other still make one run (the store
// refuses the second insert, which then answers as a replay).
func (s *Service) RunNowKeyed(ctx context.Context, jobID, requestedBy string, params json.RawMessage, key string) (*connecthub.Run, bool, error) {
	if err := connecthub.CheckRequestKey(key); err != nil {
		return nil, false, err
	}
	if key != "" {
		if r, err := s.replay(ctx, jobID, key, params); !connecthub.IsKind(err, connecthub.KindNotFound) {
			return r, err == nil, err
		}
	}
	j, err := s.st.JobGet(ctx, jobID)
	if err != nil {
		return nil, false, err
	}
	now := s.now()
	r := connecthub.NewRun(j, connecthub.TriggerManual, now, now, requestedBy)
	if connecthub.HasRunParams(params) {
		if err := s.applyParams(ctx, j, r, params); err != nil {
			return nil, false, err
		}
	}
	if key != "" {
		if r.Meta, err = (connecthub.RunMeta{RequestKey: key}).Encode(); err != nil {
			return nil, false, err
		}
	}
	actx, e := s.audited(ctx, "run.now", "job:"+jobID)
	if r.Snapshot.Meta.Params != nil {
		e.Changes = append(e.Changes, connecthub.AuditChange{Field: "params", After: store.AuditValue(r.Snapshot.Meta.Params)})
	}
	if err := s.st.RunInsert(actx, []*connecthub.Run{r}); err != nil {
		if key != "" && connecthub.IsKind(err, connecthub.KindConflict) {
			// Another request with this key made its run first.
			if r, rerr := s.replay(ctx, jobID, key, params); rerr == nil || !connecthub.IsKind(rerr, connecthub.KindNotFound) {
				return r, rerr == nil, rerr
			}
		}
		return nil, false, err
	}
	return r, false, nil
}

// replay returns the run that job jobID's request with key made, if its
// params were the same as these; KindNotFound when no run has the key.
func (s *Service) replay(ctx context.Context, jobID, key string, params json.RawMessage) (*connecthub.Run, error) {
	r, err := s.st.RunByRequestKey(ctx, jobID, key)
	if err != nil {
		return nil, err
	}
	if !sameParams(r.Snapshot.Meta.Params, params) {
		return nil, &connecthub.Error{Kind: connecthub.KindUnprocessable, Code: "idempotency_key_reused",
			Field: connecthub.RequestKeyField, Args: []string{r.ID},
			Message: "this " + connecthub.RequestKeyField + " already made run " + r.ID + " with other params: use a new key for another request"}
	}
	return r, nil
}

// sameParams reports whether a run's recorded params and a request's are
// the same JSON value (none and null are the same: no params).
func sameParams(recorded, requested json.RawMessage) bool {
	if !connecthub.HasRunParams(recorded) || !connecthub.HasRunParams(requested) {
		return connecthub.HasRunParams(recorded) == connecthub.HasRunParams(requested)
	}
	var a, b any
	if json.Unmarshal(recorded, &a) != nil || json.Unmarshal(requested, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// applyParams merges params into the run's snapshot and validates the
// result against the handler's schema.
func (s *Service) applyParams(ctx context.Context, j *connecthub.Job, r *connecthub.Run, params json.RawMessage) error {
	merged, err := connecthub.ApplyRunParams(j.PublicCfg, params)
	if err != nil {
		return err
	}
	nodes, err := s.nodesForSave(ctx)
	if err != nil {
		return err
	}
	spec, _, err := s.resolveHandler(j, nodes, false)
	if err != nil {
		return err
	}
	if err := s.schemas.validate(spec, merged); err != nil {
		var e *connecthub.Error
		if errors.As(err, &e) && e.Field == "public_cfg" {
			return connecthub.FieldError("params", e.Code, "params: %s", strings.Replace(e.Message, "public_cfg", "the job's public_cfg with params merged in", 1))
		}
		return err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, params); err != nil {
		return connecthub.FieldError("params", "", "params must be a JSON object")
	}
	r.Snapshot.PublicCfg = merged
	r.Snapshot.Meta.Params = buf.Bytes()
	return nil
}

// RunRetry enqueues a new run from a terminal run's snapshot.
func (s *Service) RunRetry(ctx context.Context, runID, requestedBy string) (*connecthub.Run, error) {
	old, err := s.st.RunGet(ctx, runID)
	if err != nil {
		return nil, err
	}
	if !old.Status.Terminal() {
		return nil, &connecthub.Error{Kind: connecthub.KindConflict, Code: "run_not_terminal", Message: "run is still running; retry it after it ends"}
	}
	token, err := s.st.RunSecret(ctx, runID)
	if err != nil {
		return nil, err
	}
	old.Snapshot.SecretCfg = token
	r := connecthub.RetryRun(old, s.now(), requestedBy)
	if err := s.st.RunInsert(s.Audited(ctx, "run.retry", "run:"+runID), []*connecthub.Run{r}); err != nil {
		return nil, err
	}
	return r, nil
}

// RunCancel cancels a queued or running run.
func (s *Service) RunCancel(ctx context.Context, runID string) (*connecthub.Run, error) {
	return s.st.RunCancel(s.Audited(ctx, "run.cancel", "run:"+runID), runID, s.now())
}

// RunGet returns a run.
func (s *Service) RunGet(ctx context.Context, runID string) (*connecthub.Run, error) {
	return s.st.RunGet(ctx, runID)
}

// RunList lists a page of the runs that f selects, newest first, and the
// cursor of the next page ("" after the last).
func (s *Service) RunList(ctx context.Context, f connecthub.RunFilter) ([]*connecthub.Run, string, error) {
	return s.st.RunList(ctx, f)
}

// RunLogRead reads a run's log from offset.
func (s *Service) RunLogRead(ctx context.Context, runID string, offset int64) (connecthub.RunLogChunk, error) {
	return s.st.RunLogRead(ctx, runID, offset)
}

// RunPurge deletes a job's finished runs.
func (s *Service) RunPurge(ctx context.Context, jobID string) (int64, error) {
	return s.st.RunDeleteFinished(s.Audited(ctx, "runs.purge", "job:"+jobID), jobID)
}

// Stats summarises runs and jobs.
func (s *Service) Stats(ctx context.Context) (*connecthub.Stats, error) {
	st, err := s.st.Stats(ctx, s.now())
	if err != nil {
		return nil, err
	}
	if st.Warnings, err = s.CalendarStatsWarnings(ctx); err != nil {
		return nil, err
	}
	if err := s.markPaused(ctx, st); err != nil {
		return nil, err
	}
	return st, nil
}

// HandlerInfo describes a handler for the API and the admin UI.
type HandlerInfo struct {
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	ConfigSchema any      `json:"config_schema"`
	SecretKeys   []string `json:"secret_keys"`
	// Local says this server has the handler itself, so saves are
	// validated against its own spec rather than a node's.
	Local bool `json:"local"`
	// Nodes are the registered nodes that serve the handler.
	Nodes []HandlerNode `json:"nodes"`
	// Translations are the description and the schema's help texts in
	// other languages, by language tag (see handler.Spec.Translations).
	Translations map[string]handler.Text `json:"translations,omitempty"`
}

// Handlers lists the handlers of this server's own registry, without
// reading the node registry (no context, no query): for pages that only
// need names and schemas. node, when not empty, is named as the server
// node that serves them. HandlerList is the full picture.
func (s *Service) Handlers(node string) []HandlerInfo {
	specs := s.registry.List()
	out := make([]HandlerInfo, 0, len(specs))
	for _, sp := range specs {
		info := infoOf(sp)
		info.Local = true
		if node != "" {
			info.Nodes = append(info.Nodes, HandlerNode{Name: node, Kind: connecthub.NodeKindServer})
		}
		out = append(out, info)
	}
	return out
}

// infoOf describes a spec, with empty lists rather than null in JSON.
func infoOf(sp handler.Spec) HandlerInfo {
	info := HandlerInfo{Name: sp.Name, Description: sp.Description, SecretKeys: sp.SecretKeys, Nodes: []HandlerNode{}, Translations: sp.Translations}
	if info.SecretKeys == nil {
		info.SecretKeys = []string{}
	}
	if len(sp.ConfigSchema) > 0 {
		info.ConfigSchema = sp.ConfigSchema
	}
	return info
}

// MaxCronPreview bounds CronNext's n.
const MaxCronPreview = 100

// CronNext previews the next n fire times of an expression in a timezone.
func (s *Service) CronNext(expr, tz string, n int, after time.Time) ([]time.Time, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, connecthub.FieldError("expr", "invalid_cron", "expr is required")
	}
	sched, err := cron.Parse(expr)
	if err != nil {
		return nil, connecthub.FieldError("expr", "invalid_cron", "%s", err.Error())
	}
	if tz == "" {
		tz = s.defaults.Timezone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || strings.EqualFold(tz, "local") {
		return nil, connecthub.FieldError("tz", "invalid_timezone", "unknown timezone %q (use an IANA name like Asia/Shanghai)", tz)
	}
	if n <= 0 || n > MaxCronPreview {
		return nil, connecthub.FieldError("n", "", "n must be between 1 and %d", MaxCronPreview)
	}
	if after.IsZero() {
		after = s.now()
	}
	times := sched.NextN(after, loc, n)
	for i := range times {
		times[i] = times[i].In(loc)
	}
	return times, nil
}
