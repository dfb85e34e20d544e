// Package handler is the public API for writing ConnectHub handlers in Go.
//
// A handler is the code a job runs. It receives the run's context (cancelled
// on timeout, on a cancel request, or when the server's shutdown deadline
// passes), the job's public configuration, its decrypted secrets (in memory
// only) and a logger whose lines go to the run log, and returns a message and
// an optional JSON result, or an error.
//
// To add handlers to ConnectHub, register them from an init function of your
// package and build a binary whose main imports it:
//
//	func init() {
//		handler.Register(handler.Spec{
//			Name: "acme.sync",
//			Description: "Sync ACME invoices",
//			ConfigSchema: json.RawMessage(`{"type":"object","required":["since"]}`),
//			SecretKeys: []string{"api_key"},
//			Func: func(ctx context.Context, t *handler.Task) (*handler.Result, error) {
//				t.Log.Info("syncing")
//				return &handler.Result{Message: "synced 3 invoices"}, nil
//			},
//		})
//	}
//
// See docs/handlers.md for a complete custom build.
package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/connecthub/connecthub"
)

// Func is the signature of a handler.
type Func func(ctx context.Context, t *Task) (*Result, error)

// Spec describes a handler: its name, the function, and what it expects.
type Spec struct {
	// Name is what jobs put in their `handler` field, e.g. "oa.export_form".
	Name string
	// Description is shown in the API and the admin UI.
	Description string
	// ConfigSchema is an optional JSON Schema (draft 2020-12) for the job's
	// public_cfg; saves are validated against it and the admin form shows
	// its properties.
	ConfigSchema json.RawMessage
	// SecretKeys are the keys of secret_cfg the handler needs; a save without
	// one of them is rejected.
	SecretKeys []string
	// Func runs the handler.
	Func Func
	// Translations are Description and the help texts of ConfigSchema's
	// top-level properties in other languages, by language tag (the admin
	// UI speaks "zh-CN"). Description and the schema are the English
	// originals; a missing translation falls back to them, piece by piece.
	Translations map[string]Text
}

// Text is what a person reads about a handler, in one language.
type Text struct {
	// Description translates Spec.Description.
	Description string `json:"description,omitempty"`
	// Fields translate the "description" of the config schema's top-level
	// properties, by property name.
	Fields map[string]string `json:"fields,omitempty"`
}

// Text returns the handler's text in lang: its translation where there is
// one, the English original elsewhere. Fields holds only translated
// properties; the schema's own descriptions serve the others.
func (s Spec) Text(lang string) Text {
	out := Text{Description: s.Description}
	tr, ok := s.Translations[lang]
	if !ok {
		return out
	}
	if tr.Description != "" {
		out.Description = tr.Description
	}
	out.Fields = tr.Fields
	return out
}

// Task is what a handler gets for one run.
//
// RunID, JobID, Attempt and ScheduledFor identify the run the same way in
// an in-process worker and in a remote one. A run can execute more than
// once (a retry, or a run rescued from a worker that died), so a handler
// with side effects can use them as idempotency keys: JobID with
// ScheduledFor names one scheduled slot across all its runs, RunID with
// Attempt one execution. The shell handler exports them to its command as
// CONNECTHUB_RUN_ID, CONNECTHUB_JOB_ID, CONNECTHUB_ATTEMPT and
// CONNECTHUB_SCHEDULED_FOR.
type Task struct {
	// RunID is the run's ID.
	RunID string
	// JobID is the ID of the run's job.
	JobID string
	// Attempt counts the run's attempts from 1.
	Attempt     int
	MaxAttempts int
	Trigger     string
	// ScheduledFor is when the run was due; zero if it has no such time.
	ScheduledFor time.Time
	// Config is the job's public_cfg, a JSON object.
	Config json.RawMessage
	// Secrets are the decrypted secret_cfg values. Non-string values are
	// given as their JSON text. Their values are masked in the run log.
	Secrets map[string]string
	// Log writes to the run log. Lines at WARN level are also summarised in
	// the run's message.
	Log *slog.Logger
	// Upstream is the run whose end started this one through a chain
	// (Trigger "chain"): its run and job, how it ended and its result.
	// nil for runs a chain did not start.
	Upstream *Upstream
}

// Upstream is what a chained run's handler knows of the run that started
// it. It is the domain's connecthub.Upstream.
type Upstream = connecthub.Upstream

// Bind decodes the task's public configuration into v.
func (t *Task) Bind(v any) error {
	if len(t.Config) == 0 {
		return nil
	}
	if err := json.Unmarshal(t.Config, v); err != nil {
		return fmt.Errorf("public_cfg: %w", err)
	}
	return nil
}

// BindUpstream decodes the result of the run that started this one
// through a chain into v. It reports false, leaving v alone, when the task
// has no upstream or the upstream run returned no result.
func (t *Task) BindUpstream(v any) (bool, error) {
	if t.Upstream == nil || len(t.Upstream.Result) == 0 || string(t.Upstream.Result) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(t.Upstream.Result, v); err != nil {
		return false, fmt.Errorf("upstream result: %w", err)
	}
	return true, nil
}

// Secret returns one secret value, "" when absent.
func (t *Task) Secret(key string) string { return t.Secrets[key] }

// Result is what a successful handler returns.
type Result struct {
	// Message is a short human summary, shown with the run.
	Message string
	// Data is an optional JSON-encodable result stored with the run.
	Data any
}

// permanentError marks an error that must not be retried.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the run fails at once even when it has
// attempts left: use it for errors a retry cannot fix (bad configuration).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Registry is a set of handlers by name. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	specs map[string]Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: make(map[string]Spec)} }

// Add registers a handler; it fails on an empty or duplicate name, a nil
// function or a schema that is not JSON.
func (r *Registry) Add(s Spec) error {
	if !namePattern.MatchString(s.Name) {
		return fmt.Errorf("handler name %q: must be 1-128 characters of A-Z a-z 0-9 . _ : -", s.Name)
	}
	if s.Func == nil {
		return fmt.Errorf("handler %q: Func is nil", s.Name)
	}
	if len(s.ConfigSchema) > 0 && !json.Valid(s.ConfigSchema) {
		return fmt.Errorf("handler %q: ConfigSchema is not valid JSON", s.Name)
	}
	if err := checkTranslations(s); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.specs == nil {
		r.specs = make(map[string]Spec)
	}
	if _, dup := r.specs[s.Name]; dup {
		return fmt.Errorf("handler %q registered twice", s.Name)
	}
	r.specs[s.Name] = s
	return nil
}

// Lookup returns the handler of that name.
func (r *Registry) Lookup(name string) (Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[name]
	return s, ok
}

// List returns the handlers sorted by name.
func (r *Registry) List() []Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Spec, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var defaultRegistry = NewRegistry()

// Register adds a handler to the default registry, the one `connecthub
// serve` and `connecthub worker` use. Call it from an init function; it
// panics on a bad or duplicate spec, because that is a programming error to
// catch at startup.
func Register(s Spec) {
	if err := defaultRegistry.Add(s); err != nil {
		panic(err)
	}
}

// Default returns the default registry.
func Default() *Registry { return defaultRegistry }

// checkTranslations refuses a translation of a property the schema does not
// have: a typo would otherwise leave the field untranslated unnoticed.
func checkTranslations(s Spec) error {
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if len(s.ConfigSchema) > 0 {
		// A schema that is not an object has no properties to translate.
		_ = json.Unmarshal(s.ConfigSchema, &doc)
	}
	for lang, tr := range s.Translations {
		for name := range tr.Fields {
			if _, ok := doc.Properties[name]; !ok {
				return fmt.Errorf("handler %q: the %s translation names field %q, which its ConfigSchema does not have", s.Name, lang, name)
			}
		}
	}
	return nil
}
