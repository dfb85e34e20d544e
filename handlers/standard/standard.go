// Package standard registers the handlers that ship in the stock connecthub
// binary into the default registry, for its side effect only:
//
//	import _ "github.com/connecthub/connecthub/handlers/standard"
//
// It registers the built-in handlers (noop, sleep, httpcall and shell, see
// package builtin) and the Seeyon OA → Didi example jobs (package
// syncoatodidi, which do nothing until a job uses them). The program still
// leaves shell out unless CONNECTHUB_ENABLE_SHELL=true, so registering it
// here enables nothing by itself.
//
// Keeping the list here, not in the server's wiring, means a handler ships
// in the stock binary by being added to this file, and a custom build
// decides what it includes by what it imports.
package standard

import (
	"github.com/connecthub/connecthub/extensions/syncoatodidi"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/handlers/builtin"
)

func init() {
	if err := Register(handler.Default()); err != nil {
		// A duplicate name is a programming error of the build: fail at
		// startup, as handler.Register does.
		panic(err)
	}
}

// Register adds the stock handlers, shell included, to r; the init
// function calls it on the default registry. It fails if r is nil or
// already holds a handler of the same name.
func Register(r *handler.Registry) error {
	if err := builtin.Register(r, builtin.Options{EnableShell: true}); err != nil {
		return err
	}
	return syncoatodidi.Register(r)
}
