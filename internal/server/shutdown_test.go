package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
)

// TestShutdownDelayKeepsServing checks the first phase of a shutdown with
// CONNECTHUB_SHUTDOWN_DELAY: /health/ready answers 503 "draining" at once
// while the API still answers, and Run returns no sooner than the delay.
func TestShutdownDelayKeepsServing(t *testing.T) {
	t.Parallel()
	const delay = 3 * time.Second
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DBURL, cfg.FernetKeyPath = "", ""
	cfg.WithDefaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.Workers = 1
	cfg.AdminToken = config.Secret("delay-test-token-0123456789abcdef")
	cfg.ShutdownDelay = delay
	reg := handler.NewRegistry()
	if err := builtin.Register(reg, builtin.Options{}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, server.Options{Handlers: reg, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server never became ready")
	}
	base := "http://" + srv.Addr()
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer delay-test-token-0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s during the shutdown delay: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	stopped := time.Now()
	cancel()
	// Readiness turns 503 at once: poll until it does (the cancel reaches
	// Run asynchronously), well within the delay.
	for {
		code, body := get("/health/ready")
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "draining") {
				t.Errorf("/health/ready = %d %s, want draining", code, body)
			}
			break
		}
		if time.Since(stopped) > delay {
			t.Fatalf("/health/ready still %d after the delay", code)
		}
	}
	for _, path := range []string{"/health/live", "/api/v1/jobs"} {
		if code, body := get(path); code != http.StatusOK {
			t.Errorf("GET %s during the shutdown delay = %d %s, want 200", path, code, body)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if took := time.Since(stopped); took < delay {
			t.Errorf("Run returned %s after the cancel, before the %s delay", took, delay)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not stop")
	}
	if _, err := http.Get(base + "/health/live"); err == nil {
		t.Error("the server still accepts connections after Run returned")
	}
}
