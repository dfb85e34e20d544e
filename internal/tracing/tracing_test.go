package tracing_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/tracing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestSetup checks which environments turn tracing on, off, or fail with
// an error that names the variable.
func TestSetup(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr string
	}{
		{"nothing set", nil, false, ""},
		{"endpoint", map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4318"}, true, ""},
		{"traces endpoint", map[string]string{tracing.EnvTracesEndpoint: "http://127.0.0.1:4318/v1/traces"}, true, ""},
		{"http/protobuf", map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4318", tracing.EnvProtocol: "http/protobuf"}, true, ""},
		{"sdk disabled", map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4318", tracing.EnvSDKDisabled: "true"}, false, ""},
		{"exporter none", map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4318", tracing.EnvTracesExporter: "none"}, false, ""},
		{"exporter zipkin", map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4318", tracing.EnvTracesExporter: "zipkin"}, false, tracing.EnvTracesExporter},
		{"grpc", map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4317", tracing.EnvProtocol: "grpc"}, false, tracing.EnvProtocol},
		{"traces grpc", map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:4317", tracing.EnvTracesProtocol: "grpc"}, false, tracing.EnvTracesProtocol},
		{"no scheme", map[string]string{tracing.EnvEndpoint: "127.0.0.1:4318"}, false, tracing.EnvEndpoint},
		{"bad traces endpoint", map[string]string{tracing.EnvTracesEndpoint: "ftp://collector"}, false, tracing.EnvTracesEndpoint},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, err := tracing.Setup(context.Background(), tracing.Config{Getenv: env(tt.env)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Setup = %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.Enabled() != tt.on {
				t.Errorf("Enabled = %v, want %v", tr.Enabled(), tt.on)
			}
			if err := tr.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
		})
	}
}

// TestRunIDs checks that a run's trace id is its ULID and that ids are
// stable, so that another process can link to a run's attempt.
func TestRunIDs(t *testing.T) {
	t.Parallel()
	got := tracing.RunTraceID("01ARZ3NDEKTSV4RRFFQ69G5FAV")
	if got.String() != "01563e3ab5d3d6764c61efb99302bd5b" {
		t.Errorf("RunTraceID(ULID) = %s, want the ULID's bytes", got)
	}
	imported := tracing.RunTraceID("legacy-42")
	if !imported.IsValid() || imported != tracing.RunTraceID("legacy-42") || imported == tracing.RunTraceID("legacy-43") {
		t.Errorf("RunTraceID of a non-ULID id is not a stable, distinct, valid id: %s", imported)
	}
	a1, a2 := tracing.AttemptSpanID("r", 1), tracing.AttemptSpanID("r", 2)
	if !a1.IsValid() || a1 == a2 || a1 != tracing.AttemptSpanID("r", 1) {
		t.Errorf("AttemptSpanID not stable and distinct: %s %s", a1, a2)
	}
}

// TestStartRun checks the run span's ids, links and end states, and that a
// nil Tracing returns the context untouched.
func TestStartRun(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.New(exp)
	run := &connecthub.Run{ID: "01ARZ3NDEKTSV4RRFFQ69G5FAV", JobID: "sync.users", Attempt: 2, MaxAttempts: 3,
		Trigger: connecthub.TriggerRetry, Queue: "default"}
	run.Snapshot.Handler = "noop"
	run.Snapshot.Meta.RetryOf = "01ARZ3NDEKTSV4RRFFQ69G5FAA"
	ctx, span := tr.StartRun(context.Background(), run, "node-1")
	if sc := trace.SpanContextFromContext(ctx); sc.SpanID() != tracing.AttemptSpanID(run.ID, 2) {
		t.Errorf("the context carries span %s, want the attempt's", sc.SpanID())
	}
	long := strings.Repeat("é", 1000) // 2000 bytes, cut at a character boundary
	span.End("FAILURE", long)
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != "run sync.users" || s.Status.Code != codes.Error || len(s.Status.Description) > 1030 || !strings.HasSuffix(s.Status.Description, "é…") {
		t.Errorf("span %q status %v %q", s.Name, s.Status.Code, s.Status.Description)
	}
	var relations []string
	for _, l := range s.Links {
		for _, a := range l.Attributes {
			relations = append(relations, a.Value.AsString()+"→"+l.SpanContext.SpanID().String())
		}
	}
	want := []string{
		"previous_attempt→" + tracing.AttemptSpanID(run.ID, 1).String(),
		"retry_of→" + tracing.AttemptSpanID(run.Snapshot.Meta.RetryOf, 1).String(),
	}
	if fmt.Sprint(relations) != fmt.Sprint(want) {
		t.Errorf("links = %v, want %v", relations, want)
	}

	var off *tracing.Tracing
	base := context.WithValue(context.Background(), struct{}{}, 1)
	ctx, span = off.StartRun(base, run, "node-1")
	if ctx != base || span != nil {
		t.Error("a nil Tracing changed the context or returned a span")
	}
	span.End("SUCCESS", "") // a nil span does nothing
	if ctx, cs := tracing.StartClient(base, "GET"); ctx != base || cs != nil {
		t.Error("StartClient without a traced run changed the context or returned a span")
	}
}

// TestHandler checks the server spans of the API middleware: named by
// route, with the status, continuing a caller's trace, without the query
// string or any header, and left out for skipped paths.
func TestHandler(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.New(exp)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("the wrapped writer is no http.Flusher")
		}
		if r.PathValue("id") == "boom" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "{}")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "m 1") })
	h := tr.Handler(mux, func(r *http.Request) bool { return r.URL.Path == "/metrics" })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	parent := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, tt := range []struct {
		path, traceparent string
	}{
		{"/api/v1/jobs/j1?token=s3cret-query", parent},
		{"/api/v1/jobs/boom", ""},
		{"/nope", ""},
		{"/metrics", ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
		req.Header.Set("Authorization", "Bearer s3cret-header")
		if tt.traceparent != "" {
			req.Header.Set("Traceparent", tt.traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3 (the scrape left out)", len(spans))
	}
	for i, want := range []struct {
		name, status, route string
		code                codes.Code
	}{
		{"GET /api/v1/jobs/{id}", "200", "/api/v1/jobs/{id}", codes.Unset},
		{"GET /api/v1/jobs/{id}", "500", "/api/v1/jobs/{id}", codes.Error},
		{"GET", "404", "", codes.Unset},
	} {
		s := spans[i]
		attrs := map[attribute.Key]string{}
		for _, a := range s.Attributes {
			attrs[a.Key] = a.Value.Emit()
		}
		if s.Name != want.name || attrs["http.response.status_code"] != want.status || attrs["http.route"] != want.route || s.Status.Code != want.code {
			t.Errorf("span %d: %q %v status %v, want %+v", i, s.Name, attrs, s.Status.Code, want)
		}
		if s.SpanKind != trace.SpanKindServer {
			t.Errorf("span %d kind %v, want server", i, s.SpanKind)
		}
		if dump := fmt.Sprintf("%+v", s); strings.Contains(dump, "s3cret") || strings.Contains(dump, "/api/v1/jobs/j1") {
			t.Errorf("span %d holds a secret or the request's path: %s", i, dump)
		}
	}
	if got := spans[0].Parent.TraceID().String(); got != "0af7651916cd43dd8448eb211c80319c" || !spans[0].Parent.IsRemote() {
		t.Errorf("the first span's parent is %s, want the caller's trace", got)
	}
	if spans[1].Parent.IsValid() {
		t.Error("a request without traceparent got a parent")
	}

	var off *tracing.Tracing
	if got := off.Handler(mux, nil); fmt.Sprintf("%p", got) != fmt.Sprintf("%p", mux) {
		t.Error("with tracing off Handler did not return the handler itself")
	}
}

// TestDo checks the client span of an integration's request: the path but
// not the query, and a traceparent sent.
func TestDo(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Traceparent")
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.New(exp)
	ctx, run := tr.StartRun(context.Background(), &connecthub.Run{ID: "r1", JobID: "j", Attempt: 1}, "n")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/users?access_token=s3cret", nil)
	resp, err := tracing.Do(srv.Client(), req, "didi: GET /api/users")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	run.End("SUCCESS", "")
	if req.Header.Get("Traceparent") != "" {
		t.Error("Do changed the caller's request headers")
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	c := spans[0]
	if tp := <-got; !strings.Contains(tp, c.SpanContext.SpanID().String()) {
		t.Errorf("traceparent %q does not name the client span", tp)
	}
	if dump := fmt.Sprintf("%+v", c); strings.Contains(dump, "s3cret") || !strings.Contains(dump, "/api/users") {
		t.Errorf("client span: %s", dump)
	}
	if c.Status.Code != codes.Error || c.Name != "didi: GET /api/users" {
		t.Errorf("client span %q status %v, want an error for 418", c.Name, c.Status.Code)
	}
}

// BenchmarkRunPathOff measures what tracing adds to each run and each
// handler HTTP call when it is off: a nil check and a context lookup,
// with no allocation.
//
//	go test -run '^$' -bench RunPathOff -benchmem ./internal/tracing/
func BenchmarkRunPathOff(b *testing.B) {
	var off *tracing.Tracing
	run := &connecthub.Run{ID: "01ARZ3NDEKTSV4RRFFQ69G5FAV", JobID: "j", Attempt: 1}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rctx, span := off.StartRun(ctx, run, "n")
		cctx, client := tracing.StartClient(rctx, "GET")
		client.Inject(cctx, nil)
		client.End(200, "")
		span.End("SUCCESS", "")
	}
}
