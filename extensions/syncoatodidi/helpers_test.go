package syncoatodidi

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/integrations/didi/diditest"
	"github.com/connecthub/connecthub/integrations/seeyon/seeyontest"
)

// record is one logged line.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	mu      sync.Mutex
	records []record
	attrs   []slog.Attr
	parent  *recorder // the root that holds the records, for WithAttrs copies
}

func (r *recorder) root() *recorder {
	if r.parent != nil {
		return r.parent
	}
	return r
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	attrs := make(map[string]string)
	for _, a := range r.attrs {
		attrs[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	root := r.root()
	root.mu.Lock()
	defer root.mu.Unlock()
	root.records = append(root.records, record{level: rec.Level, msg: rec.Message, attrs: attrs})
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{attrs: append(append([]slog.Attr(nil), r.attrs...), as...), parent: r.root()}
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

func (r *recorder) all() []record {
	root := r.root()
	root.mu.Lock()
	defer root.mu.Unlock()
	return append([]record(nil), root.records...)
}

// text returns every message and attribute value, for leak checks.
func (r *recorder) text() string {
	var b strings.Builder
	for _, rec := range r.all() {
		b.WriteString(rec.msg)
		for k, v := range rec.attrs {
			b.WriteString(" " + k + "=" + v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// withLevel returns the records at level.
func (r *recorder) withLevel(level slog.Level) []record {
	var out []record
	for _, rec := range r.all() {
		if rec.level == level {
			out = append(out, rec)
		}
	}
	return out
}

// newTask returns a task with config (marshalled to JSON) and secrets.
func newTask(t *testing.T, config any, secrets map[string]string) (*handler.Task, *recorder) {
	t.Helper()
	raw, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	return &handler.Task{
		RunID:   "run-1",
		JobID:   "oa.sync-legal-entity",
		Attempt: 1, MaxAttempts: 1,
		Trigger: "manual",
		Config:  raw,
		Secrets: secrets,
		Log:     slog.New(rec),
	}, rec
}

// oaSecrets are the secrets matching the Seeyon fake's defaults.
func oaSecrets() map[string]string {
	return map[string]string{
		SecretRESTUser:     seeyontest.DefaultUser,
		SecretRESTPassword: seeyontest.DefaultPassword,
	}
}

// allSecrets are the secrets matching both fakes' defaults.
func allSecrets() map[string]string {
	s := oaSecrets()
	s[SecretClientSecret] = diditest.DefaultClientSecret
	s[SecretSignKey] = diditest.DefaultSignKey
	s[SecretPhone] = diditest.DefaultPhone
	return s
}

// spec returns the handler spec of that name.
func spec(t *testing.T, name string) handler.Spec {
	t.Helper()
	for _, s := range Specs(Options{}) {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no handler %s", name)
	return handler.Spec{}
}

// obj is a public_cfg under construction.
type obj = map[string]any
