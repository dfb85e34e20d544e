// Package handlertest helps test a handler, built-in or your own: a slog
// handler that records what a handler logs and lets a test wait for a line,
// a Task builder, and a check of a handler's config schema done the way the
// server compiles it.
package handlertest

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/connecthub/connecthub/handler"
)

// Record is one logged line as a test sees it.
type Record struct {
	Level   slog.Level
	Message string
	// Attrs are the record's attributes (including those added with With),
	// rendered with their String method.
	Attrs map[string]string
}

// Recorder stores every record logged through its Logger. It is safe for
// concurrent use, as a handler may log from several goroutines.
type Recorder struct {
	mu      sync.Mutex
	records []Record
	changed chan struct{} // closed and replaced whenever a record arrives
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{changed: make(chan struct{})} }

// Logger returns a logger that writes to r at every level.
func (r *Recorder) Logger() *slog.Logger { return slog.New(&recordingHandler{rec: r}) }

// Records returns a copy of the records so far, in the order they arrived.
func (r *Recorder) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.records)
}

// Messages returns the messages of the records so far.
func (r *Recorder) Messages() []string {
	var out []string
	for _, rec := range r.Records() {
		out = append(out, rec.Message)
	}
	return out
}

// WaitFor returns the first record that satisfies match, waiting for new
// records until ctx is done. It lets a test react to a line a handler logs
// (a PID, "ready") without sleeping.
func (r *Recorder) WaitFor(ctx context.Context, match func(Record) bool) (Record, error) {
	seen := 0
	for {
		r.mu.Lock()
		pending, changed := r.records[seen:], r.changed
		seen = len(r.records)
		r.mu.Unlock()
		for _, rec := range pending {
			if match(rec) {
				return rec, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		}
	}
}

func (r *Recorder) add(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The slice is only ever appended to, so the copies handed out by
	// WaitFor stay valid.
	r.records = append(r.records, rec)
	close(r.changed)
	r.changed = make(chan struct{})
}

// recordingHandler is the slog.Handler behind Recorder.Logger; the handlers
// returned by WithAttrs and WithGroup share its Recorder.
type recordingHandler struct {
	rec    *Recorder
	attrs  []slog.Attr
	prefix string // group names joined with ".", with a trailing "."
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := make(map[string]string, len(h.attrs)+r.NumAttrs())
	for _, a := range h.attrs {
		attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		attrs[h.prefix+a.Key] = a.Value.String()
		return true
	})
	h.rec.add(Record{Level: r.Level, Message: r.Message, Attrs: attrs})
	return nil
}

func (h *recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := *h
	out.attrs = slices.Clone(h.attrs)
	for _, a := range as {
		a.Key = h.prefix + a.Key
		out.attrs = append(out.attrs, a)
	}
	return &out
}

func (h *recordingHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	out := *h
	out.prefix = h.prefix + name + "."
	return &out
}

// NewTask returns a task with the given public_cfg and secrets whose logger
// writes to the returned Recorder.
func NewTask(config string, secrets map[string]string) (*handler.Task, *Recorder) {
	rec := NewRecorder()
	t := &handler.Task{
		RunID:       "run-test",
		JobID:       "job-test",
		Attempt:     1,
		MaxAttempts: 1,
		Trigger:     "manual",
		Secrets:     secrets,
		Log:         rec.Logger(),
	}
	if config != "" {
		t.Config = json.RawMessage(config)
	}
	return t, rec
}

// Draft2020 is the $schema every built-in handler's config schema declares,
// and the one CheckSchema requires.
const Draft2020 = "https://json-schema.org/draft/2020-12/schema"

// CheckSchema compiles spec's config schema the way the server does and
// checks that it is a draft 2020-12 object schema whose every property has a
// description (the admin form shows them), that each of valid validates and
// that none of invalid does.
func CheckSchema(t *testing.T, spec handler.Spec, valid, invalid []string) {
	t.Helper()
	var doc struct {
		Schema     string `json:"$schema"`
		Type       string `json:"type"`
		Properties map[string]struct {
			Description string `json:"description"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(spec.ConfigSchema, &doc); err != nil {
		t.Fatalf("%s: ConfigSchema is not valid JSON: %v", spec.Name, err)
	}
	if doc.Schema != Draft2020 {
		t.Errorf("%s: $schema = %q, want %q", spec.Name, doc.Schema, Draft2020)
	}
	if doc.Type != "object" {
		t.Errorf("%s: type = %q, want object", spec.Name, doc.Type)
	}
	for name, p := range doc.Properties {
		if strings.TrimSpace(p.Description) == "" {
			t.Errorf("%s: property %q has no description", spec.Name, name)
		}
	}
	schema := compile(t, spec)
	for _, cfg := range valid {
		if err := validate(schema, cfg); err != nil {
			t.Errorf("%s: schema rejects valid config %s: %v", spec.Name, cfg, err)
		}
	}
	for _, cfg := range invalid {
		if err := validate(schema, cfg); err == nil {
			t.Errorf("%s: schema accepts invalid config %s", spec.Name, cfg)
		}
	}
}

func compile(t *testing.T, spec handler.Spec) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec.ConfigSchema))
	if err != nil {
		t.Fatalf("%s: ConfigSchema: %v", spec.Name, err)
	}
	c := jsonschema.NewCompiler()
	url := "handler:" + spec.Name
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("%s: ConfigSchema: %v", spec.Name, err)
	}
	schema, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s: ConfigSchema does not compile: %v", spec.Name, err)
	}
	return schema
}

func validate(schema *jsonschema.Schema, cfg string) error {
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(cfg))
	if err != nil {
		return err
	}
	return schema.Validate(inst)
}
