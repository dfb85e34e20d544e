// Package app is the entry point of the connecthub program, public so that
// a custom build with extra handlers is a copy of cmd/connecthub/main.go plus
// one import of the package that registers them (see docs/handlers.md).
package app

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	// The tz database is embedded so CONNECTHUB_TIMEZONE and job timezones
	// work in minimal images without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/connecthub/connecthub/handler"
	// The stock handlers (noop, sleep, httpcall, shell, the Seeyon OA →
	// Didi examples) register themselves into handler.Default().
	_ "github.com/connecthub/connecthub/handlers/standard"
	"github.com/connecthub/connecthub/internal/cli"
)

// Main runs connecthub with the process's arguments, environment and
// standard streams, and the handlers registered in handler.Default(), and
// exits. The first SIGINT or SIGTERM starts a graceful shutdown; a second
// one exits at once with status 1.
func Main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "connecthub: received %s, shutting down gracefully (send it again to exit at once)\n", s)
		cancel()
		s = <-sigs
		fmt.Fprintf(os.Stderr, "connecthub: received %s again, exiting now\n", s)
		os.Exit(1)
	}()
	code := cli.Run(ctx, cli.Env{
		Args:     os.Args[1:],
		Getenv:   os.Getenv,
		Stdin:    os.Stdin,
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Registry: handler.Default(),
	})
	cancel()
	os.Exit(code)
}
