// Package pyimport takes over a Python ConnectHub: it reads the old
// database (PostgreSQL or SQLite, tables jobs and job_logs), imports its
// jobs through the service's own validation and its history through the
// store's bulk import, and writes enabled and last_run_at back for a
// rollback. `connecthub import python` and `connecthub export python` are
// its commands.
package pyimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/runlog"
	"github.com/connecthub/connecthub/internal/secret"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
	"github.com/connecthub/connecthub/internal/workerproto/runrules"
)

// Timezone is the zone every imported job gets: the Python ConnectHub's
// beat read cron expressions in it.
const Timezone = "Asia/Shanghai"

// ActionRefused is a job the import leaves out, with its reason.
const ActionRefused = "refused"

// Config is what an import needs.
type Config struct {
	Source *Source
	// OldKeys decrypts the old secret_cfg tokens (the Python key file,
	// --key); nil refuses every job that has secrets.
	OldKeys *secret.Keyring
	Mapping *Mapping
	// SourceName names the source in the import's batch: its URL without
	// credentials.
	SourceName string
	// Service configures the service that validates and saves the jobs,
	// as a server's would be; its Registry (this server's handlers) gets
	// the py: handlers of the old jobs added.
	Service service.Config
	// Store receives the history and reads the jobs back.
	Store interface {
		store.RunImportStore
		JobGet(ctx context.Context, id string) (*connecthub.Job, error)
	}
	// ServerSecrets are masked out of the history as out of every run.
	ServerSecrets []string
	// RunLogMaxBytes caps each imported run log (CONNECTHUB_RUN_LOG_MAX_BYTES).
	RunLogMaxBytes int
	History        bool
	Since          *time.Time
	DryRun         bool
	// Progress receives the history's progress; nil for none.
	Progress io.Writer
	// Now is the clock (for rates); nil means time.Now.
	Now func() time.Time
	// BatchSize is the runs per RunImport call (default 1000).
	BatchSize int
}

// JobResult is what the import does (or, dry, would do) with one job.
type JobResult struct {
	ID          string `json:"id"`
	HandlerPath string `json:"handler_path"`
	Handler     string `json:"handler"`
	Action      string `json:"action"`
	Reason      string `json:"reason,omitempty"`
}

// Report is the outcome of an import.
type Report struct {
	Jobs    []JobResult   `json:"jobs"`
	Refused int           `json:"refused"`
	History HistoryReport `json:"history"`
	DryRun  bool          `json:"dry_run"`
	// Batch is the batch that wrote the jobs (0: none, nothing changed or
	// a dry run); `connecthub rollback` undoes it.
	Batch int64 `json:"batch,omitempty"`
}

// imported is a job the import brought over, with what its history needs.
type imported struct {
	job    *connecthub.Job
	masker *runlog.Masker
	// item is the job's change in the import's batch, nil when unchanged.
	item *connecthub.BatchItem
}

// Run imports the jobs, then (with History) their history. Refused jobs
// are in the report, not an error; an error means the import could not
// go on (a database failure), and what was written before it stays.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	olds, err := cfg.Source.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	svc, err := newService(cfg, olds)
	if err != nil {
		return nil, err
	}
	rep := &Report{DryRun: cfg.DryRun}
	jobs := make(map[string]*imported, len(olds))
	base := runlog.NewMasker(cfg.ServerSecrets)
	var items []connecthub.BatchItem
	for _, old := range olds {
		res, imp := importJob(ctx, cfg, svc, old, base)
		if imp != nil {
			jobs[old.ID] = imp
			if imp.item != nil {
				items = append(items, *imp.item)
			}
		}
		if res.Action == ActionRefused {
			rep.Refused++
		}
		rep.Jobs = append(rep.Jobs, res)
	}
	// The jobs are written together, in one batch that a rollback undoes
	// as a whole, and before the history that needs them.
	if !cfg.DryRun {
		b, err := svc.ImportBatch(ctx, connecthub.BatchSource{Files: []string{cfg.SourceName}}, items)
		if err != nil {
			return rep, err
		}
		if b != nil {
			rep.Batch = b.ID
		}
	}
	if cfg.History {
		h, err := importHistory(ctx, cfg, jobs)
		rep.History = h
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// importJob imports one job and returns its result, and what its history
// needs when it was imported (or would be, dry).
func importJob(ctx context.Context, cfg Config, svc *service.Service, old OldJob, base *runlog.Masker) (JobResult, *imported) {
	res := JobResult{ID: old.ID, HandlerPath: old.HandlerPath, Action: ActionRefused}
	refuse := func(format string, args ...any) (JobResult, *imported) {
		res.Reason = fmt.Sprintf(format, args...)
		return res, nil
	}
	if old.Problem != "" {
		return refuse("%s", old.Problem)
	}
	if err := connecthub.ValidateID(old.ID); err != nil {
		return refuse("%s", err)
	}
	if old.HandlerPath == "" {
		return refuse("handler_path is empty")
	}
	res.Handler = cfg.Mapping.Handler(old.HandlerPath)
	public := strings.TrimSpace(old.PublicCfg)
	if public == "" || public == "null" {
		public = "{}"
	}
	if !connecthub.IsJSONObject(json.RawMessage(public)) {
		return refuse("public_cfg must be a JSON object")
	}
	secrets, err := decryptOld(cfg.OldKeys, old.SecretCfg)
	if err != nil {
		return refuse("%s", err)
	}
	secretJSON, err := json.Marshal(secrets)
	if err != nil {
		return refuse("secret_cfg: %s", err)
	}
	tz := Timezone
	in := &connecthub.JobInput{
		ID: &old.ID, Description: old.Description, Enabled: &old.Enabled, CronExpr: &old.CronExpr,
		Timezone: &tz, Handler: &res.Handler, PublicCfg: json.RawMessage(public), SecretCfg: secretJSON,
	}
	act, before, j, err := svc.JobImportPlan(ctx, in, old.LastRunAt)
	if err != nil {
		return refuse("%s", err)
	}
	res.Action = string(act)
	m, err := runrules.Masker(base, secrets)
	if err != nil {
		return refuse("secret_cfg: %s", err)
	}
	imp := &imported{job: j, masker: m}
	if act != service.ImportUnchanged {
		imp.item = &connecthub.BatchItem{JobID: j.ID, Before: before, After: j}
	}
	return res, imp
}

// newService returns the service that saves the jobs: the configured one,
// whose registry also knows the py: handler of every old job. The Python
// worker that serves them is not running yet during an import (it is
// started once the jobs exist), and a job's handler must be known to be
// saved; such a handler has no schema, as the worker advertises none for
// old jobs, so its public_cfg need only be an object.
func newService(cfg Config, olds []OldJob) (*service.Service, error) {
	reg := handler.NewRegistry()
	if cfg.Service.Registry != nil {
		for _, sp := range cfg.Service.Registry.List() {
			if err := reg.Add(sp); err != nil {
				return nil, err
			}
		}
	}
	for _, old := range olds {
		name := cfg.Mapping.Handler(old.HandlerPath)
		if _, ok := reg.Lookup(name); ok || !strings.HasPrefix(name, PythonPrefix) || old.HandlerPath == "" {
			continue
		}
		path := old.HandlerPath
		// A name the registry refuses is refused with the job, by the
		// service's own check of its handler.
		_ = reg.Add(handler.Spec{Name: name,
			Description: "Python job " + path + ", run by connecthub-worker --legacy-path",
			Func: func(context.Context, *handler.Task) (*handler.Result, error) {
				return nil, fmt.Errorf("%s runs on the Python worker (connecthub-worker --legacy-path), not in this process", path)
			}})
	}
	sc := cfg.Service
	sc.Registry = reg
	return service.New(sc)
}

// decryptOld cleans and decrypts an old secret_cfg token (quotes, white
// space and line breaks are what copies and old code leave around it) and
// returns the secrets, an empty object for none. The errors say what is
// wrong (truncated, another key, not a token) without the token.
func decryptOld(keys *secret.Keyring, token string) (map[string]any, error) {
	t := strings.TrimSpace(token)
	if t == "" || t == "null" || t == "None" {
		return map[string]any{}, nil
	}
	if keys == nil {
		return nil, errors.New("secret_cfg is encrypted and no --key (the Python ConnectHub's key file) was given")
	}
	v, err := keys.DecryptJSON(t)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// ReportText writes the per-job plan and a summary line for people.
func ReportText(w io.Writer, rep *Report) {
	counts := map[string]int{}
	for _, j := range rep.Jobs {
		counts[j.Action]++
		line := fmt.Sprintf("%-9s %s", j.Action, j.ID)
		if j.Handler != "" {
			line += fmt.Sprintf("  (%s -> %s)", j.HandlerPath, j.Handler)
		}
		if j.Reason != "" {
			line += ": " + j.Reason
		}
		fmt.Fprintln(w, line)
	}
	if rep.DryRun {
		fmt.Fprintf(w, "jobs: %d read, %d to create, %d to update, %d unchanged, %d refused\n",
			len(rep.Jobs), counts[string(service.ImportCreate)], counts[string(service.ImportUpdate)],
			counts[string(service.ImportUnchanged)], counts[ActionRefused])
	} else {
		fmt.Fprintf(w, "jobs: %d read, %d created, %d updated, %d unchanged, %d refused\n",
			len(rep.Jobs), counts[string(service.ImportCreate)], counts[string(service.ImportUpdate)],
			counts[string(service.ImportUnchanged)], counts[ActionRefused])
		if rep.Batch > 0 {
			fmt.Fprintf(w, "batch %d (undo with: connecthub rollback %d)\n", rep.Batch, rep.Batch)
		}
	}
	if h := rep.History; h.Read > 0 || h.Enabled {
		fmt.Fprintln(w, h.Summary(rep.DryRun))
	}
	if rep.DryRun {
		fmt.Fprintln(w, "dry run: nothing was written")
	}
}
