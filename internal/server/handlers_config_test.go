package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
	"github.com/connecthub/connecthub/handlers/httpcall"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/server"
)

// TestHandlersApplyTheEgressPolicy checks that the stock httpcall, which is
// registered before the configuration is read, runs in a node with the
// configuration's CONNECTHUB_HTTPCALL_DENY, and that a bad shell user stops
// the node's registry from being built.
func TestHandlersApplyTheEgressPolicy(t *testing.T) {
	t.Parallel()
	stock := handler.NewRegistry()
	if err := builtin.Register(stock, builtin.Options{EnableShell: true}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)

	cfg := config.Default()
	cfg.HTTPCallDeny = []string{"127.0.0.0/8"}
	reg, err := server.Handlers(cfg, stock)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := reg.Lookup(httpcall.Name)
	_, err = spec.Func(context.Background(), &handler.Task{Config: []byte(`{"url": "` + srv.URL + `"}`)})
	if !errors.Is(err, httpcall.ErrEgressDenied) {
		t.Errorf("httpcall to a denied address: err = %v, want egress_denied", err)
	}

	cfg = config.Default()
	cfg.EnableShell = true
	cfg.ShellUser = "no-such-user-connecthub"
	if _, err := server.Handlers(cfg, stock); err == nil || !strings.Contains(err.Error(), "no-such-user-connecthub") {
		t.Errorf("an unknown shell user: err = %v, want one naming the user", err)
	}
}
