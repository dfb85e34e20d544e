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
	// HTTPCallDeny and HTTPCallAllow are httpcall's egress policy, in the
	// syntax of httpcall.ParseEgress; the server sets them from
	// CONNECTHUB_HTTPCALL_DENY and CONNECTHUB_HTTPCALL_ALLOW. A nil
	// HTTPCallDeny means httpcall.DefaultDeny, the cloud metadata
	// addresses; a nil HTTPCallAllow means no allow-list.
	HTTPCallDeny, HTTPCallAllow []string
	// ShellUser, when set, is the user shell commands run as; the server
	// sets it from CONNECTHUB_SHELL_USER. It is looked up only when
	// EnableShell is set.
	ShellUser string
}

// Register adds the built-in handlers to r. It fails if r is nil or already
// holds a handler of the same name.
func Register(r *handler.Registry, opts Options) error {
	if r == nil {
		return errors.New("builtin.Register: nil registry")
	}
	egress, err := httpcall.ParseEgress(opts.HTTPCallDeny, opts.HTTPCallAllow)
	if err != nil {
		return fmt.Errorf("registering the built-in handlers: httpcall egress policy: %w", err)
	}
	specs := []handler.Spec{noop.Spec(), sleep.Spec(), httpcall.SpecWithOptions(httpcall.Options{Client: opts.HTTPClient, Egress: egress})}
	if opts.EnableShell {
		sh, err := shell.SpecWithOptions(shell.Options{User: opts.ShellUser})
		if err != nil {
			return fmt.Errorf("registering the built-in handlers: %w", err)
		}
		specs = append(specs, sh)
	}
	for _, s := range specs {
		if err := r.Add(s); err != nil {
			return fmt.Errorf("registering the built-in handlers: %w", err)
		}
	}
	return nil
}
