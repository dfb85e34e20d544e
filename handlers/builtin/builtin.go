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

// Register adds the built-in handlers to r. It fails if r is nil, if opts
// holds a bad egress list or an unknown shell user, or if r already holds a
// handler of the same name.
func Register(r *handler.Registry, opts Options) error {
	if r == nil {
		return errors.New("builtin.Register: nil registry")
	}
	web, err := httpcallSpec(opts)
	if err != nil {
		return fmt.Errorf("registering the built-in handlers: %w", err)
	}
	specs := []handler.Spec{noop.Spec(), sleep.Spec(), web}
	if opts.EnableShell {
		sh, err := shellSpec(opts)
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

// Configure returns spec set up by opts when it is named like a built-in
// handler whose behaviour depends on the server's configuration (httpcall:
// HTTPClient and the egress lists; shell: ShellUser), and any other spec
// unchanged. Handlers registered from an init function, such as those of
// handlers/standard, exist before the configuration is read: the server
// passes every spec it runs through Configure so that its settings apply to
// them. EnableShell is not consulted; whether shell runs at all is the
// caller's decision. A replaced httpcall loses the client it was built with,
// so a program with its own client passes it in opts.HTTPClient.
func Configure(spec handler.Spec, opts Options) (handler.Spec, error) {
	switch spec.Name {
	case httpcall.Name:
		return httpcallSpec(opts)
	case shell.Name:
		return shellSpec(opts)
	}
	return spec, nil
}

func httpcallSpec(opts Options) (handler.Spec, error) {
	egress, err := httpcall.ParseEgress(opts.HTTPCallDeny, opts.HTTPCallAllow)
	if err != nil {
		return handler.Spec{}, fmt.Errorf("httpcall egress policy: %w", err)
	}
	return httpcall.SpecWithOptions(httpcall.Options{Client: opts.HTTPClient, Egress: egress}), nil
}

func shellSpec(opts Options) (handler.Spec, error) {
	return shell.SpecWithOptions(shell.Options{User: opts.ShellUser})
}
