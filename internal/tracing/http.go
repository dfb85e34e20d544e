package tracing

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// What a span about HTTP records is chosen so that no secret leaves the
// process: the method, the route pattern or URL template (never a URL with
// its query, which may hold a token, nor one with a secret substituted),
// the host and the path only where its caller knows them to be safe, the
// status code. Never a header, a body or a query string.

// ClientSpan is the span of one outgoing HTTP request. A nil *ClientSpan
// does nothing.
type ClientSpan struct{ span trace.Span }

// Traced reports whether ctx carries a recording span (that of a traced
// run), for a caller that would otherwise compute a span's attributes for
// nothing.
func Traced(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

// StartClient starts a client span for one HTTP request when ctx carries
// a recording span (that of a traced run); otherwise it returns ctx and
// nil, so an untraced call costs a context lookup. name is the span's
// name, low in cardinality ("GET", "didi token"); attrs must hold nothing
// secret.
func StartClient(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, *ClientSpan) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, nil
	}
	ctx, span := parent.TracerProvider().Tracer(ScopeName).Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, &ClientSpan{span: span}
}

// Inject adds the W3C traceparent header of the span to h, so that a
// traced server continues the run's trace. It carries two random ids and a
// flag, nothing else.
func (c *ClientSpan) Inject(ctx context.Context, h http.Header) {
	if c == nil {
		return
	}
	propagation.TraceContext{}.Inject(trace.ContextWithSpan(ctx, c.span), propagation.HeaderCarrier(h))
}

// End ends the span with the response's status code (0 when there was no
// response) and, on failure, errText, which must hold nothing secret.
func (c *ClientSpan) End(status int, errText string) {
	if c == nil {
		return
	}
	if status > 0 {
		c.span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	switch {
	case errText != "":
		c.span.SetStatus(codes.Error, errText)
	case status >= 400:
		c.span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(status))
	}
	c.span.End()
}

// Do sends req with client inside a client span named name when req's
// context carries a traced run, recording the method, the host and the
// path (the query and the headers are left out); otherwise it is
// client.Do(req). For API clients whose host and paths are not secret.
func Do(client *http.Client, req *http.Request, name string) (*http.Response, error) {
	if !Traced(req.Context()) {
		return client.Do(req)
	}
	ctx, span := StartClient(req.Context(), name,
		attribute.String("http.request.method", req.Method),
		attribute.String("server.address", req.URL.Hostname()),
		attribute.String("url.path", req.URL.Path))
	req = req.WithContext(ctx)
	req.Header = req.Header.Clone()
	span.Inject(ctx, req.Header)
	resp, err := client.Do(req)
	if err != nil {
		span.End(0, "request failed")
		return nil, err
	}
	span.End(resp.StatusCode, "")
	return resp, nil
}

// Handler wraps h so that each request is a server span, continuing the
// caller's trace when it sends a traceparent header. The span is named by
// the method and the route pattern that served the request. skip, when
// set, leaves requests out (health checks, scrapes). With tracing off it
// returns h itself.
func (t *Tracing) Handler(h http.Handler, skip func(*http.Request) bool) http.Handler {
	if t == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if skip != nil && skip(r) {
			h.ServeHTTP(w, r)
			return
		}
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		// The path is not recorded: a route may one day carry a one-time
		// token in it (an invitation link); the route pattern below names
		// its place instead.
		ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method)))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(ctx)
		h.ServeHTTP(rec, r)
		// The mux sets the pattern on the request it was handed, which
		// the handlers in between pass along; a request that no route
		// matched keeps its method alone as the name.
		if route := routeOf(r.Pattern); route != "" {
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(status))
		}
	})
}

// routeOf is the path part of a ServeMux pattern ("GET /api/v1/jobs/{id}"
// → "/api/v1/jobs/{id}").
func routeOf(pattern string) string {
	if _, route, ok := strings.Cut(pattern, " "); ok {
		pattern = route
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // a host in the pattern
	}
	return strings.TrimSpace(pattern)
}

// statusRecorder remembers the status a handler wrote. It unwraps to the
// writer it wraps, so http.ResponseController reaches flushing and
// deadlines, and it flushes itself for handlers that assert http.Flusher.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
