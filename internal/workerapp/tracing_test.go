package workerapp

import (
	"io"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/tracing"
)

// TestTracingFromEnvironment checks that the OTEL_* variables turn a
// remote worker's tracing on, that a bad value stops it from starting with
// an error naming the variable, and that Close flushes and stops it.
func TestTracingFromEnvironment(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr string
	}{
		{"off", nil, false, ""},
		{"on", map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:1"}, true, ""},
		{"grpc refused", map[string]string{tracing.EnvEndpoint: "http://127.0.0.1:1", tracing.EnvProtocol: "grpc"}, false, tracing.EnvProtocol},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.ServerURL = "http://127.0.0.1:1"
			w, err := New(cfg, Options{Token: "tok", Name: "w-" + tt.name, Handlers: handler.NewRegistry(), LogOutput: io.Discard,
				ControlListen: "127.0.0.1:0", Getenv: func(k string) string { return tt.env[k] }})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.tracing.Enabled() != tt.on {
				t.Errorf("tracing on = %v, want %v", w.tracing.Enabled(), tt.on)
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
		})
	}
}
