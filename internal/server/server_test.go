package server_test

import (
	"net/http"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
)

// TestHandlersGatesShell checks that the node's registry leaves shell out
// unless the configuration enables it, and copies a repeated registry once.
func TestHandlersGatesShell(t *testing.T) {
	t.Parallel()
	stock := handler.NewRegistry()
	if err := builtin.Register(stock, builtin.Options{EnableShell: true}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		enable    bool
		wantShell bool
	}{
		{"shell disabled", false, false},
		{"shell enabled", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.EnableShell = tt.enable
			reg, err := server.Handlers(cfg, stock, stock, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := reg.Lookup("shell"); ok != tt.wantShell {
				t.Errorf("shell registered = %v, want %v", ok, tt.wantShell)
			}
			if _, ok := reg.Lookup("noop"); !ok {
				t.Error("noop is missing")
			}
		})
	}
}

// TestRunServesAndStops starts a node on SQLite, waits until it is ready,
// checks that it answers, and stops it through its context.
func TestRunServesAndStops(t *testing.T) {
	t.Parallel()
	srv, cancel, done := runNode(t, func(cfg *config.Config) { cfg.Workers = 2 })
	if srv.Service() == nil || srv.Name() == "" {
		t.Fatal("the server has no service or no name")
	}
	resp, err := http.Get("http://" + srv.Addr() + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /health/ready = %d, want 200", resp.StatusCode)
	}
	cancel()
	waitStopped(t, done)
}
