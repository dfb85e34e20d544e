// Package tracing is ConnectHub's OpenTelemetry tracing: each run attempt
// is a span (its trace id derived from the run id), each HTTP request a
// handler makes through an instrumented client is a child span, and each
// request to the HTTP API is a server span.
//
// Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; then spans go to that OTLP/HTTP
// (protobuf) receiver, and the other standard OTEL_* variables (service
// name, resource attributes, headers, timeout, compression, sampler, batch
// processor) configure it. Off, a *Tracing is nil and every method of it is
// a no-op that costs a nil check, so the run and request paths pay nothing.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME (or
// service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const DefaultServiceName = "connecthub"

// ScopeName is the instrumentation scope of every span ConnectHub makes.
const ScopeName = "github.com/connecthub/connecthub"

// The environment variables Setup reads itself; the exporter and the SDK
// read the other OTEL_* variables.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
)

// Config says how Setup builds the tracing of one process.
type Config struct {
	// Getenv reads the variables above; nil means os.Getenv. Tests set it
	// so that they need not change the process's environment.
	Getenv func(string) string
	// Version and Instance become service.version and
	// service.instance.id (the node's name).
	Version  string
	Instance string
	// Logger receives the exporter's errors (a receiver that is down);
	// nil discards them.
	Logger *slog.Logger
}

// Tracing is the tracing of one process. A nil *Tracing is tracing off.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

// Setup returns the tracing cfg's environment asks for: nil (off) when no
// endpoint is set, when OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER
// is "none"; an error naming the variable when a value cannot be used.
// Shutdown flushes what is left.
func Setup(ctx context.Context, cfg Config) (*Tracing, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if strings.EqualFold(strings.TrimSpace(getenv(EnvSDKDisabled)), "true") {
		return nil, nil
	}
	switch exp := strings.ToLower(strings.TrimSpace(getenv(EnvTracesExporter))); exp {
	case "none":
		return nil, nil
	case "", "otlp":
	default:
		return nil, fmt.Errorf("%s=%q is not supported: use otlp (or none)", EnvTracesExporter, exp)
	}
	endpoint, err := endpointURL(getenv)
	if err != nil || endpoint == "" {
		return nil, err
	}
	for _, name := range []string{EnvTracesProtocol, EnvProtocol} {
		if p := strings.TrimSpace(getenv(name)); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s=%q is not supported: ConnectHub sends OTLP over HTTP, set http/protobuf (the receiver's port 4318)", name, p)
			}
			break
		}
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", endpoint, err)
	}
	if cfg.Logger != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			cfg.Logger.Warn("tracing: exporting spans failed", "err", err)
		}))
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return newTracing(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// endpointURL is the URL spans are posted to: the traces endpoint as it is,
// or the general endpoint with /v1/traces appended, as the OTLP exporter
// specification says. "" means tracing is off.
func endpointURL(getenv func(string) string) (string, error) {
	name, raw := EnvTracesEndpoint, strings.TrimSpace(getenv(EnvTracesEndpoint))
	if raw == "" {
		name, raw = EnvEndpoint, strings.TrimSpace(getenv(EnvEndpoint))
	}
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s must be an http:// or https:// URL like http://127.0.0.1:4318, got %q", name, raw)
	}
	if name == EnvEndpoint {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// newResource is service.name connecthub, its version and the node's name,
// overridden by OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", DefaultServiceName)}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	if cfg.Instance != "" {
		attrs = append(attrs, attribute.String("service.instance.id", cfg.Instance))
	}
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	return res, nil
}

// New returns tracing that hands its spans to exp as soon as they end,
// for tests (with the SDK's in-memory exporter) and for callers that bring
// their own exporter.
func New(exp sdktrace.SpanExporter) *Tracing {
	return newTracing(sdktrace.WithSyncer(exp))
}

func newTracing(opts ...sdktrace.TracerProviderOption) *Tracing {
	opts = append(opts, sdktrace.WithIDGenerator(runIDs{}))
	p := sdktrace.NewTracerProvider(opts...)
	return &Tracing{
		provider: p,
		tracer:   p.Tracer(ScopeName),
		prop:     propagation.TraceContext{},
	}
}

// Enabled reports whether spans are recorded.
func (t *Tracing) Enabled() bool { return t != nil }

// Shutdown exports the spans still buffered and stops the exporter, within
// ctx; a nil *Tracing does nothing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// ShutdownTimeout bounds the final flush of a process that stops, so that
// a receiver that is down cannot hold the shutdown.
const ShutdownTimeout = 5 * time.Second

// Close is Shutdown within ShutdownTimeout, for a list of closers.
func (t *Tracing) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return t.Shutdown(ctx)
}
