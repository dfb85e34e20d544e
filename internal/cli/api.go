package cli

// What every client command shares: the flags that locate the server, the
// call-then-print shape of a command, and the small formatters of tables.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
)

// clientFlags locate the server for client commands.
type clientFlags struct {
	server, token string
	asJSON        bool
}

func (f *clientFlags) register(cmd *cobra.Command) {
	f.registerOn(cmd.PersistentFlags().StringVar)
	cmd.PersistentFlags().BoolVar(&f.asJSON, "json", false, "print JSON for scripts")
}

// group is a command whose subcommands talk to the API, with the flags
// that locate the server registered on it for all of them.
func (f *clientFlags) group(use, short string) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short}
	f.register(cmd)
	return cmd
}

// registerLocal registers the server flags on cmd alone (not its
// subcommands), for a command whose subcommands have flags of their own.
func (f *clientFlags) registerLocal(cmd *cobra.Command) { f.registerOn(cmd.Flags().StringVar) }

func (f *clientFlags) registerOn(stringVar func(*string, string, string, string)) {
	stringVar(&f.server, "server", "", "server URL (CONNECTHUB_SERVER_URL, default http://127.0.0.1:8000)")
	stringVar(&f.token, "token", "", "API token (CONNECTHUB_ADMIN_TOKEN, else ./data/admin.token)")
}

// client builds an API client. Without --token or CONNECTHUB_ADMIN_TOKEN it
// reads the token a local server generated, so `connecthub job list` just
// works next to `connecthub serve`.
func (f *clientFlags) client(env *Env) (*client.Client, error) {
	server := cmp.Or(f.server, env.Getenv("CONNECTHUB_SERVER_URL"), "http://127.0.0.1:8000")
	token := cmp.Or(f.token, env.Getenv("CONNECTHUB_ADMIN_TOKEN"))
	if token == "" {
		dir := cmp.Or(env.Getenv("CONNECTHUB_DATA_DIR"), "./data")
		b, err := os.ReadFile(filepath.Join(dir, "admin.token"))
		if err != nil {
			return nil, usageError("no API token: pass --token, set CONNECTHUB_ADMIN_TOKEN, or run next to the server's %s", filepath.Join(dir, "admin.token"))
		}
		token = strings.TrimSpace(string(b))
	}
	return client.New(server, token, nil)
}

// apiCall is what a client command's call gets: the command's context,
// the API client and the positional arguments.
type apiCall struct {
	ctx  context.Context
	c    *client.Client
	args []string
}

type runE = func(*cobra.Command, []string) error

// clientRun is the RunE of a client command: run gets the command's
// context, the API client and the positional arguments.
func clientRun(env *Env, cf *clientFlags, run func(apiCall) error) runE {
	return func(cmd *cobra.Command, args []string) error {
		c, err := cf.client(env)
		if err != nil {
			return err
		}
		return run(apiCall{cmd.Context(), c, args})
	}
}

// apiCmd is the RunE of a client command that makes one call and prints
// its answer: as JSON with --json, else as text does.
func apiCmd[T any](env *Env, cf *clientFlags, call func(apiCall) (T, error), text func(apiCall, T) error) runE {
	return clientRun(env, cf, func(a apiCall) error {
		v, err := call(a)
		if err != nil {
			return err
		}
		return show(env, cf, a, v, text)
	})
}

// show prints a call's answer: as JSON with --json, else as text does.
func show[T any](env *Env, cf *clientFlags, a apiCall, v T, text func(apiCall, T) error) error {
	if cf.asJSON {
		var out any = v
		if k, ok := out.(interface{ jsonValue() any }); ok {
			out = k.jsonValue()
		}
		return writeJSONOut(env, out)
	}
	return text(a, v)
}

// checked runs check on the arguments first, so that a mistake in the
// command line is told before a missing token or an unreachable server.
func checked(check func(args []string) error, run runE) runE {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(args); err != nil {
			return err
		}
		return run(cmd, args)
	}
}

// keyed is a list printed as {"key": [...]} with --json, or as a bare
// array when key is ""; [] rather than null when it is empty.
type keyed[T any] struct {
	key   string
	items []T
}

func (k keyed[T]) jsonValue() any {
	if k.key == "" {
		return nonNil(k.items)
	}
	return map[string][]T{k.key: nonNil(k.items)}
}

// listCmd is a `list` command: one call for the whole list, printed as a
// table (see table), and with --json as keyed says.
func listCmd[T any](env *Env, cf *clientFlags, short, key string, list func(*client.Client, context.Context) ([]T, error),
	empty, header string, row func(T) []any) *cobra.Command {
	return &cobra.Command{Use: "list", Short: short, Args: cobra.NoArgs,
		RunE: apiCmd(env, cf, func(a apiCall) (keyed[T], error) {
			items, err := list(a.c, a.ctx)
			return keyed[T]{key, items}, err
		}, func(_ apiCall, l keyed[T]) error { return table(env, l.items, empty, header, row) })}
}

// oneCmd is a command on one named thing: call acts on it, and its answer
// prints as text says (as JSON with --json).
func oneCmd[T any](env *Env, cf *clientFlags, use, short string, call func(*client.Client, context.Context, string) (T, error), text func(apiCall, T) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: apiCmd(env, cf, func(a apiCall) (T, error) { return call(a.c, a.ctx, a.args[0]) }, text)}
}

// actCmd is a command on one named thing whose call answers nothing: it
// prints done with the name (the same with --json, for scripts read the
// exit code).
func actCmd(env *Env, cf *clientFlags, use, short string, act func(*client.Client, context.Context, string) error, done string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1), RunE: clientRun(env, cf, func(a apiCall) error {
		return orSay(env, act(a.c, a.ctx, a.args[0]), fmt.Sprintf(done, a.args[0]))
	})}
}

// need is a check for checked: it refuses with a usage error saying msg
// unless ok holds.
func need(ok func() bool, msg string) func([]string) error {
	return func([]string) error {
		if !ok() {
			return usageError("%s", msg)
		}
		return nil
	}
}

// nonNil is s, or an empty slice for nil, which JSON shows as [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// table prints items as aligned columns under header, one row of cells
// per item (each printed as fmt.Print does); without items it says empty
// instead, unless empty is "".
func table[T any](env *Env, items []T, empty, header string, row func(T) []any) error {
	if len(items) == 0 && empty != "" {
		return say(env, "%s", empty)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		for i, cell := range row(it) {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, cell)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// tablePage prints a page of a paged list as table does, then how to ask
// for the next page, if any.
func tablePage[T any](env *Env, items []T, next, empty, header string, row func(T) []any) error {
	err := table(env, items, empty, header, row)
	if err == nil && next != "" {
		fmt.Fprintf(env.Stdout, "(more: --cursor %s)\n", next)
	}
	return err
}

// say prints one line and ends a command's text output.
func say(env *Env, format string, args ...any) error {
	fmt.Fprintf(env.Stdout, format+"\n", args...)
	return nil
}

func writeJSONOut(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// dash shows an empty value as "-".
func dash(s string) string { return cmp.Or(s, "-") }

// details prints a record as "key: value" lines, the values aligned;
// rows adds the lines with row.
func details(env *Env, rows func(row func(k, v string))) error {
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	rows(func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) })
	return tw.Flush()
}

func fmtDuration(d *connecthub.Duration) string {
	if d == nil {
		return "-"
	}
	return d.D().Round(time.Millisecond).String()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// readFileArg reads a --file argument: a path, or - for stdin.
func readFileArg(env *Env, file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(env.Stdin)
	}
	return os.ReadFile(file)
}

// readJSONFile reads a request body given as --file: a path, or - for
// stdin. It must be JSON.
func readJSONFile(env *Env, file string) (json.RawMessage, error) {
	data, err := readFileArg(env, file)
	if err != nil {
		return nil, usageError("--file: %v", err)
	}
	if !json.Valid(data) {
		return nil, usageError("--file %s: not valid JSON", file)
	}
	return data, nil
}
