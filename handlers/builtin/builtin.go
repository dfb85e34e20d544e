// Package builtin registers the handlers that ship with ConnectHub: noop,
// sleep, httpcall and, when enabled, shell.
package builtin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/httpcall"
	"github.com/connecthub/connecthub/handlers/noop"
	"github.com/connecthub/connecthub/handlers/shell"
	"github.com/connecthub/connecthub/handlers/sleep"
)

// Options chooses which built-in handlers are registered and how.
type Options struct {
	// EnableShell registers the shell handler. It is off by default because
	// shell runs arbitrary commands on the host with the server's
	// privileges; the server sets it from CONNECTHUB_ENABLE_SHELL=true.
	EnableShell bool
	// HTTPClient is the client of the httpcall handler; nil means a default
	// client. Set it for a proxy, custom TLS roots, or in tests.
	HTTPClient *http.Client
}

// Register adds the built-in handlers to r. It fails if r is nil or already
// holds a handler of the same name.
func Register(r *handler.Registry, opts Options) error {
	if r == nil {
		return errors.New("builtin.Register: nil registry")
	}
	specs := []handler.Spec{noop.Spec(), sleep.Spec(), httpcall.SpecWithClient(opts.HTTPClient)}
	if opts.EnableShell {
		specs = append(specs, shell.Spec())
	}
	for _, s := range specs {
		if err := r.Add(s); err != nil {
			return fmt.Errorf("registering the built-in handlers: %w", err)
		}
	}
	return nil
}
