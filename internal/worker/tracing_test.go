package worker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/httpcall"
	"github.com/connecthub/connecthub/internal/tracing"
)

// TestRunTracing runs an httpcall job whose first attempt gets a 500 and
// whose second succeeds, with tracing on, and checks the spans: one per
// attempt in the run's own trace, the second linked to the first, each
// with a client span for its HTTP call whose traceparent reached the
// server, and no secret in any of them.
func TestRunTracing(t *testing.T) {
	t.Parallel()
	const secretValue = "tr4ce-s3cret-value"
	var (
		mu          sync.Mutex
		calls       int
		traceparent []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		traceparent = append(traceparent, r.Header.Get("Traceparent"))
		if calls == 1 {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)

	h := newHarness(t)
	if err := h.reg.Add(httpcall.Spec()); err != nil {
		t.Fatal(err)
	}
	token, err := h.keys.EncryptJSON(map[string]any{"K": secretValue})
	if err != nil {
		t.Fatal(err)
	}
	j := h.job(t, "traced.call", httpcall.Name, func(j *connecthub.Job) {
		j.PublicCfg = []byte(`{"url": "` + srv.URL + `/hook?key={{secret.K}}", "headers": {"X-Key": "{{secret.K}}"}}`)
		j.SecretCfg, j.HasSecret, j.SecretKeys = token, true, []string{"K"}
		j.MaxAttempts = 2
	})
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.New(exp)
	t.Cleanup(func() { _ = tr.Shutdown(t.Context()) })
	h.start(t, "node-t", nil, func(c *Config) { c.Tracing = tr })
	id := h.enqueue(t, j, 1)[0]
	h.waitStatus(t, id, connecthub.StatusSuccess)

	var runs, clients []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		switch s.SpanKind {
		case trace.SpanKindConsumer:
			runs = append(runs, s)
		case trace.SpanKindClient:
			clients = append(clients, s)
		}
		if dump := fmt.Sprintf("%+v", s); strings.Contains(dump, secretValue) {
			t.Errorf("span %q holds the secret value: %s", s.Name, dump)
		}
	}
	if len(runs) != 2 || len(clients) != 2 {
		t.Fatalf("got %d run spans and %d client spans, want 2 and 2", len(runs), len(clients))
	}
	wantTrace := tracing.RunTraceID(id)
	for i, want := range []struct {
		status string
		code   codes.Code
	}{{"RETRY", codes.Error}, {"SUCCESS", codes.Ok}} {
		run := runs[i]
		attempt := i + 1
		if run.SpanContext.TraceID() != wantTrace || run.SpanContext.SpanID() != tracing.AttemptSpanID(id, attempt) {
			t.Errorf("attempt %d: ids %s/%s, want the run's trace and the attempt's span id", attempt, run.SpanContext.TraceID(), run.SpanContext.SpanID())
		}
		if run.Parent.IsValid() {
			t.Errorf("attempt %d: the run span has a parent %s, want a root", attempt, run.Parent.SpanID())
		}
		attrs := attrMap(run.Attributes)
		for k, v := range map[string]string{
			"connecthub.job.id": j.ID, "connecthub.run.id": id, "connecthub.run.attempt": fmt.Sprint(attempt),
			"connecthub.run.status": want.status, "connecthub.handler": httpcall.Name, "connecthub.node": "node-t",
			"connecthub.run.trigger": "manual",
		} {
			if attrs[k] != v {
				t.Errorf("attempt %d: %s = %q, want %q", attempt, k, attrs[k], v)
			}
		}
		if run.Status.Code != want.code {
			t.Errorf("attempt %d: status %v %q, want %v", attempt, run.Status.Code, run.Status.Description, want.code)
		}
		client := clients[i]
		if client.Parent.SpanID() != run.SpanContext.SpanID() || client.SpanContext.TraceID() != wantTrace {
			t.Errorf("attempt %d: the client span is not the run span's child", attempt)
		}
		cattrs := attrMap(client.Attributes)
		if !strings.HasSuffix(cattrs["url.template"], "/hook?key={{secret.K}}") || cattrs["http.request.method"] != "GET" {
			t.Errorf("attempt %d: client attributes %v", attempt, cattrs)
		}
		wantParent := "00-" + wantTrace.String() + "-" + client.SpanContext.SpanID().String() + "-01"
		if traceparent[i] != wantParent {
			t.Errorf("attempt %d: the server got traceparent %q, want %q", attempt, traceparent[i], wantParent)
		}
	}
	if s := attrMap(clients[0].Attributes)["http.response.status_code"]; s != "500" {
		t.Errorf("first call's status code = %q, want 500", s)
	}
	if !strings.Contains(runs[0].Status.Description, "unexpected status 500") {
		t.Errorf("first attempt's error = %q", runs[0].Status.Description)
	}
	if l := runs[1].Links; len(l) != 1 || l[0].SpanContext.SpanID() != tracing.AttemptSpanID(id, 1) || l[0].SpanContext.TraceID() != wantTrace {
		t.Errorf("second attempt's links = %+v, want one to the first attempt", l)
	}
}

// TestRunTracingOffKeepsContext checks that with tracing off the handler
// gets the run's own context, with no span in it.
func TestRunTracingOffKeepsContext(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	got := make(chan trace.SpanContext, 1)
	h.handle(t, "look", func(ctx context.Context, _ *handler.Task) (*handler.Result, error) {
		got <- trace.SpanContextFromContext(ctx)
		return nil, nil
	})
	h.start(t, "node-u", nil, nil)
	id := h.enqueue(t, h.job(t, "untraced", "look", nil), 1)[0]
	h.waitStatus(t, id, connecthub.StatusSuccess)
	if sc := recv(t, got, "the handler call"); sc.IsValid() {
		t.Errorf("the handler's context carries span %s with tracing off", sc.SpanID())
	}
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}
