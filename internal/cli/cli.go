// Package cli is ConnectHub's command line: `serve` and the other server
// commands, and the client commands that talk to a server's REST API. The
// whole program is the function Run, so tests start and stop it like any
// other function, in process, without building or exec'ing a binary.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/handler"

	// The program is this package's Run, also where tests run it: the
	// stock handlers are part of it.
	_ "github.com/connecthub/connecthub/handlers/standard"
)

// Env is what the program reads from its surroundings, injected so that
// tests run it without touching the process environment.
type Env struct {
	Args   []string
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Registry holds extra handlers (tests add theirs here). The program
	// always runs those of the default registry too: the stock handlers,
	// which the blank import of handlers/standard registers, and those of
	// a custom build.
	Registry *handler.Registry
	// Ready, if set, is called by serve with the address it listens on once
	// it accepts connections (tests use it to find a random port).
	Ready func(addr string)
	// DotEnv is the .env file to read ("" = ".env" in the working directory).
	DotEnv string
}

// exitError carries a specific exit code. A silent one is not printed:
// the command already told the person everything (a followed run's outcome).
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a mistake in the command line (exit code 2).
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// Run runs the program and returns its exit code: 0 on success, 1 on a
// failure, 2 on a usage error. Errors are printed to Stderr in one line.
func Run(ctx context.Context, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Registry == nil {
		env.Registry = handler.NewRegistry()
	}
	if env.DotEnv == "" {
		env.DotEnv = ".env"
	}
	root := newRoot(&env)
	root.SetArgs(env.Args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.silent {
			fmt.Fprintf(env.Stderr, "connecthub: %s\n", oneLine(err.Error()))
		}
		return ee.code
	}
	fmt.Fprintf(env.Stderr, "connecthub: %s\n", oneLine(err.Error()))
	if isUsage(err) {
		return 2
	}
	return 1
}

// isUsage recognises cobra's own command-line errors.
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func newRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "connecthub",
		Short:         "ConnectHub: scheduled integration jobs, exactly once, with every run recorded",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       connecthub.Version,
	}
	// Our own completion command (help.go) replaces cobra's.
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetHelpCommand(helpCommand(root))
	root.AddCommand(
		newServeCmd(env),
		newMigrateCmd(env),
		newHealthcheckCmd(env),
		newConfigCmd(env),
		newVersionCmd(env),
		newCronCmd(env),
		newCalendarCmd(env),
		newQueueCmd(env),
		newKeygenCmd(env),
		newJobCmd(env),
		newRunCmd(env),
		newRunsCmd(env),
		newWorkerCmd(env),
		newTokenCmd(env),
		newUserCmd(env),
		newNodesCmd(env),
		newNotifyCmd(env),
		newSecretsCmd(env), newBackupCmd(env), newRestoreCmd(env),
		newCompletionCmd(env),
		newImportCmd(env), newExportCmd(env),
		newStatsCmd(env),
		newApplyCmd(env), newDiffCmd(env), newBatchesCmd(env), newRollbackCmd(env),
	)
	addHelp(root)
	return root
}
