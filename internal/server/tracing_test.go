package server_test

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/tracing"
)

// otlpReceiver is an OTLP/HTTP trace receiver on 127.0.0.1, built from
// the protocol's own protobuf messages: it decodes each export request and
// keeps the spans with their service name.
type otlpReceiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service map[string]bool
	raw     strings.Builder // every request body, to look for secrets
}

func newOTLPReceiver(t *testing.T) (*otlpReceiver, string) {
	t.Helper()
	rcv := &otlpReceiver{service: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP receiver: unexpected %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("OTLP receiver: undecodable export: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		rcv.raw.Write(body)
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					rcv.service[a.GetValue().GetStringValue()] = true
				}
			}
			for _, ss := range rs.ScopeSpans {
				rcv.spans = append(rcv.spans, ss.Spans...)
			}
		}
		rcv.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return rcv, srv.URL
}

func otlpAttr(s *tracepb.Span, key string) *commonpb.AnyValue {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value
		}
	}
	return nil
}

// TestTracingToOTLPReceiver runs a node with OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at a real OTLP/HTTP receiver, runs an httpcall job that calls
// the node's own API with a secret token, stops the node, and checks what
// the receiver got: the run's span in the run's trace, the call's client
// span under it, the API's server span for that call continuing the same
// trace, the API span of the run request, all flushed by the shutdown and
// none carrying the secret.
func TestTracingToOTLPReceiver(t *testing.T) {
	t.Parallel()
	rcv, endpoint := newOTLPReceiver(t)
	cfg := testConfig(t, t.TempDir())
	n, stop := startStoppableNodeWith(t, cfg, server.Options{Getenv: func(k string) string {
		if k == tracing.EnvEndpoint {
			return endpoint
		}
		return ""
	}})
	t.Cleanup(stop)
	c := &http.Client{Timeout: 30 * time.Second}
	auth := []string{"Authorization", "Bearer " + nodeToken, "Content-Type", "application/json"}
	job := `{"id": "traced.self", "handler": "httpcall",
		"public_cfg": {"url": "` + n.url + `/api/v1/handlers?token={{secret.TOKEN}}", "headers": {"Authorization": "Bearer {{secret.TOKEN}}"}},
		"secret_cfg": {"TOKEN": "` + nodeToken + `"}}`
	if resp, body := n.send(c, n.request(http.MethodPost, "/api/v1/jobs", job, auth...)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create job: %d %s", resp.StatusCode, body)
	}
	resp, body := n.send(c, n.request(http.MethodPost, "/api/v1/jobs/traced.self/run", "", auth...))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("run job: %d %s", resp.StatusCode, body)
	}
	var run connecthub.Run
	if err := json.Unmarshal([]byte(body), &run); err != nil {
		t.Fatal(err)
	}
	run = n.waitRun(c, run.ID, connecthub.StatusSuccess)
	stop() // the shutdown flushes the spans still in the batch

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if !rcv.service[tracing.DefaultServiceName] {
		t.Errorf("service names %v, want %q", rcv.service, tracing.DefaultServiceName)
	}
	if strings.Contains(rcv.raw.String(), nodeToken) {
		t.Error("an exported span holds the secret token")
	}
	wantTrace := tracing.RunTraceID(run.ID)
	byName := map[string][]*tracepb.Span{}
	for _, s := range rcv.spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	runSpans := byName["run traced.self"]
	if len(runSpans) != 1 {
		t.Fatalf("%d spans of the run, want 1; got spans %v", len(runSpans), names(rcv.spans))
	}
	rs := runSpans[0]
	if hex.EncodeToString(rs.TraceId) != wantTrace.String() || otlpAttr(rs, "connecthub.run.id").GetStringValue() != run.ID ||
		otlpAttr(rs, "connecthub.run.status").GetStringValue() != "SUCCESS" || otlpAttr(rs, "connecthub.run.attempt").GetIntValue() != 1 {
		t.Errorf("run span: trace %x, attributes %v", rs.TraceId, rs.Attributes)
	}
	var client, served *tracepb.Span
	for _, s := range rcv.spans {
		switch {
		case s.Kind == tracepb.Span_SPAN_KIND_CLIENT && string(s.ParentSpanId) == string(rs.SpanId):
			client = s
		case s.Name == "GET /api/v1/handlers":
			served = s
		}
	}
	if client == nil {
		t.Fatalf("no client span under the run span; got %v", names(rcv.spans))
	}
	if tmpl := otlpAttr(client, "url.template").GetStringValue(); !strings.HasSuffix(tmpl, "?token={{secret.TOKEN}}") {
		t.Errorf("client span url.template = %q", tmpl)
	}
	if served == nil || string(served.TraceId) != string(rs.TraceId) || string(served.ParentSpanId) != string(client.SpanId) {
		t.Errorf("the API's span of the call does not continue the run's trace under the client span: %v", served)
	}
	if len(byName["POST /api/v1/jobs/{id}/run"]) != 1 {
		t.Errorf("no span of the run request; got %v", names(rcv.spans))
	}
}

// waitRun polls the run through the API until it is terminal and fails
// the test unless it ended with want.
func (n *node) waitRun(c *http.Client, id string, want connecthub.RunStatus) connecthub.Run {
	n.t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for {
		_, body := n.get(c, "/api/v1/runs/"+id, "Authorization", "Bearer "+nodeToken)
		var run connecthub.Run
		if err := json.Unmarshal([]byte(body), &run); err != nil {
			n.t.Fatalf("run %s: %v: %s", id, err, body)
		}
		if run.Status.Terminal() {
			if run.Status != want {
				n.t.Fatalf("run %s is %s (error %q), want %s", id, run.Status, run.Error, want)
			}
			return run
		}
		select {
		case <-tick.C:
		case <-deadline:
			n.t.Fatalf("run %s is still %s, want %s", id, run.Status, want)
		}
	}
}

func names(spans []*tracepb.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}
