package server_test

import (
	"bufio"
	"context"
	"io"
	"net"
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
	srv, cancel, done := runNode(t, func(cfg *config.Config) {
		cfg.Workers = 1
		cfg.AdminToken = config.Secret("delay-test-token-0123456789abcdef")
		cfg.ShutdownDelay = delay
	})
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
	waitStopped(t, done)
	if took := time.Since(stopped); took < delay {
		t.Errorf("Run returned %s after the cancel, before the %s delay", took, delay)
	}
	if _, err := http.Get(base + "/health/live"); err == nil {
		t.Error("the server still accepts connections after Run returned")
	}
}

// TestShutdownLetsKeptAliveConnectionsFinish checks the last phase of a
// shutdown from a proxy's side: once the listener is closed (new
// connections refused), a connection the proxy keeps alive is not closed
// under it; its next request is answered, with "Connection: close", and
// only then does the connection end. A server that closed idle
// connections itself would race the proxy writing a request into one,
// which nginx cannot retry for a POST.
func TestShutdownLetsKeptAliveConnectionsFinish(t *testing.T) {
	t.Parallel()
	srv, cancel, done := runNode(t, func(cfg *config.Config) { cfg.Workers = 0 })
	addr := srv.Addr()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func() *http.Response {
		t.Helper()
		if _, err := io.WriteString(conn, "GET /health/live HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
			t.Fatalf("write on the kept-alive connection: %v", err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read on the kept-alive connection: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("before the shutdown: %d, close=%v; want 200 kept alive", resp.StatusCode, resp.Close)
	}

	cancel()
	// The listener closes once the (workerless) node has stopped: wait
	// until a new connection is refused.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a client still held a connection", err)
	default:
	}
	resp := get()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("after the listener closed: %d, close=%v; want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
	waitStopped(t, done)
}

// runNode builds a node on SQLite in a temp dir from cfg (after adjust),
// runs it until the returned cancel, and waits until it is ready. done
// receives Run's result.
func runNode(t *testing.T, adjust func(*config.Config)) (srv *server.Server, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DBURL, cfg.FernetKeyPath = "", ""
	cfg.WithDefaults()
	cfg.Listen = "127.0.0.1:0"
	adjust(cfg)
	reg := handler.NewRegistry()
	if err := builtin.Register(reg, builtin.Options{}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, server.Options{Handlers: reg, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != "" {
		t.Errorf("Addr before Run = %q, want empty", srv.Addr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-ran:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server never became ready")
	}
	return srv, cancel, ran
}

// waitStopped waits for Run's result after a shutdown and checks it is nil.
func waitStopped(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after a shutdown", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not stop")
	}
}
