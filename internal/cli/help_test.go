package cli

import (
	"bytes"
	"context"
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
			t.Errorf("%q has no example in its --help: add one to examples in help.go or set Example", c.CommandPath())
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
