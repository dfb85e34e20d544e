package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasAnExample walks the whole command tree, as a person
// typing --help would find it, and requires an example on every command:
// the first thing one copies.
func TestEveryCommandHasAnExample(t *testing.T) {
	t.Parallel()
	root := newRoot(&Env{Getenv: func(string) string { return "" }})
	root.InitDefaultHelpCmd()
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no example in its --help: add one to help.txt", c.CommandPath())
		} else if !strings.Contains(c.Example, "connecthub") {
			t.Errorf("%q: its example does not show a connecthub command line:\n%s", c.CommandPath(), c.Example)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 30 {
		t.Errorf("walked %d commands, expected the whole tree (30 or more)", n)
	}
}

func TestHelpShowsExamplesAndDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"job", "create", "--help"}, []string{"Examples:", "--max-attempts int", "(default 1)", `(default "forbid")`, `(default "once")`,
			`(default "1h0m0s")`, `(default "10s")`, "--retry-backoff", "--misfire-window", "0s = no timeout"}, nil},
		{[]string{"job", "update", "--help"}, []string{"Examples:", "--retry-backoff", "--misfire-window"}, []string{`(default "forbid")`, "(default 1)"}},
		{[]string{"serve", "--help"}, []string{"default :8000", "default ./data", "default 20"}, nil},
		{[]string{"help", "run", "list"}, []string{"Examples:", "--status FAILURE"}, nil},
		{[]string{"--help"}, []string{"completion"}, nil},
	} {
		var out bytes.Buffer
		code := Run(context.Background(), Env{Args: tc.args, Stdout: &out, Stderr: &out})
		if code != 0 {
			t.Errorf("%v: exit %d\n%s", tc.args, code, out.String())
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: help lacks %q:\n%s", tc.args, w, out.String())
			}
		}
		for _, w := range tc.not {
			if strings.Contains(out.String(), w) {
				t.Errorf("%v: help shows %q, which is not true here:\n%s", tc.args, w, out.String())
			}
		}
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		shell, want string
		code        int
	}{
		{"bash", "complete -o default -F __start_connecthub connecthub", 0},
		{"zsh", "#compdef connecthub", 0},
		{"fish", "complete -c connecthub", 0},
		{"powershell", "unknown shell", 2},
	} {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), Env{Args: []string{"completion", tc.shell}, Stdout: &out, Stderr: &errOut})
		if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
			t.Errorf("completion %s: exit %d (want %d), output lacks %q:\n%.300s%s", tc.shell, code, tc.code, tc.want, out.String(), errOut.String())
		}
	}
	// The completion script calls the hidden __complete command: it must
	// offer the subcommands.
	var out bytes.Buffer
	Run(context.Background(), Env{Args: []string{"__complete", "job", ""}, Stdout: &out})
	for _, sub := range []string{"create", "run", "list"} {
		if !strings.Contains(out.String(), sub) {
			t.Errorf("__complete job: %q missing:\n%s", sub, out.String())
		}
	}
}

// TestCLIReference keeps docs/cli-reference.md what the command tree
// says: every command's usage, summary, long help, flags and examples,
// which come from help.txt and the flags' definitions, so that the
// reference is never written by hand.
// CONNECTHUB_UPDATE_DOCS=1 go test -run TestCLIReference ./internal/cli/
// rewrites it after a change.
func TestCLIReference(t *testing.T) {
	t.Parallel()
	root := newRoot(&Env{Getenv: func(string) string { return "" }})
	root.InitDefaultHelpCmd()
	var b strings.Builder
	b.WriteString("# Command reference\n\n<!-- Generated from the command tree by TestCLIReference (internal/cli/help_test.go);\n" +
		"edit internal/cli/help.txt or the flags, then run CONNECTHUB_UPDATE_DOCS=1 go test -run TestCLIReference ./internal/cli/ -->\n\n" +
		"Every command of `connecthub`, as its `--help` shows it. [cli.md](cli.md) is the overview.\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n```\n%s\n```\n", c.CommandPath(), c.Short, c.UseLine())
		if c.Long != "" {
			fmt.Fprintf(&b, "\n```\n%s\n```\n", strings.TrimRight(c.Long, "\n "))
		}
		if f := c.LocalFlags().FlagUsages(); f != "" {
			fmt.Fprintf(&b, "\nFlags:\n\n```\n%s```\n", f)
		}
		if f := c.InheritedFlags().FlagUsages(); f != "" {
			fmt.Fprintf(&b, "\nFlags of its parent:\n\n```\n%s```\n", f)
		}
		fmt.Fprintf(&b, "\nExamples:\n\n```\n%s\n```\n", c.Example)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	const path = "../../docs/cli-reference.md"
	if os.Getenv("CONNECTHUB_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != b.String() {
		t.Errorf("%s is not what the command tree says; run CONNECTHUB_UPDATE_DOCS=1 go test -run TestCLIReference ./internal/cli/", path)
	}
}

// TestHelpTextNamesRealCommands: every block of help.txt belongs to a
// command of the tree, so that a renamed command cannot leave its help
// behind unseen.
func TestHelpTextNamesRealCommands(t *testing.T) {
	t.Parallel()
	root := newRoot(&Env{Getenv: func(string) string { return "" }})
	root.InitDefaultHelpCmd()
	paths := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		paths[c.CommandPath()] = true
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for path := range helps {
		if !paths[path] {
			t.Errorf("help.txt has a block for %q, which is no command", path)
		}
	}
	if len(helps) < 80 {
		t.Errorf("help.txt has %d blocks, expected one per command (80 or more)", len(helps))
	}
}
