package cli

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// helpText holds the long help and the examples of every command, one
// block per command path. Every command needs an example
// (TestEveryCommandHasAnExample), because an example is what a person
// copies first; docs/cli-reference.md is generated from the same tree.
//
//go:embed help.txt
var helpText string

// helpEntry is one command's block of help.txt.
type helpEntry struct{ long, example string }

// helps are help.txt's blocks by command path.
var helps = parseHelp(helpText)

// parseHelp reads help.txt: "## PATH" starts a command's block, its long
// help comes first and "### example" starts its examples. Blank lines
// around a section are not part of it; the lines before the first block
// describe the file.
func parseHelp(text string) map[string]helpEntry {
	out := map[string]helpEntry{}
	var path string
	var long, example *strings.Builder
	flush := func() {
		if path != "" {
			out[path] = helpEntry{strings.Trim(long.String(), "\n"), strings.Trim(example.String(), "\n")}
		}
	}
	cur := &strings.Builder{}
	for line := range strings.SplitSeq(text, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			flush()
			path, long, example = strings.TrimPrefix(line, "## "), &strings.Builder{}, &strings.Builder{}
			cur = long
		case line == "### example" && path != "":
			cur = example
		default:
			cur.WriteString(line + "\n")
		}
	}
	flush()
	return out
}

// addHelp fills the long help and the example of every command that has
// none from help.txt, walking the whole tree.
func addHelp(cmd *cobra.Command) {
	h := helps[cmd.CommandPath()]
	if cmd.Long == "" {
		cmd.Long = h.long
	}
	if cmd.Example == "" {
		cmd.Example = h.example
	}
	for _, c := range cmd.Commands() {
		addHelp(c)
	}
}

// newCompletionCmd prints a shell completion script. It replaces cobra's
// default command so that it has examples and only the shells we document.
func newCompletionCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print a shell completion script for bash, zsh or fish",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch strings.ToLower(args[0]) {
			case "bash":
				return root.GenBashCompletionV2(env.Stdout, true)
			case "zsh":
				return root.GenZshCompletion(env.Stdout)
			case "fish":
				return root.GenFishCompletion(env.Stdout, true)
			}
			return usageError("completion: unknown shell %q (use bash, zsh or fish)", args[0])
		},
	}
}

// helpCommand is cobra's help command with an example; cobra would add an
// identical one without it.
func helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Example: helps["connecthub help"].example,
		Run: func(c *cobra.Command, args []string) {
			cmd, _, err := root.Find(args)
			if cmd == nil || err != nil {
				fmt.Fprintf(c.OutOrStdout(), "unknown help topic %q\n", strings.Join(args, " "))
				_ = root.Usage()
				return
			}
			cmd.InitDefaultHelpFlag()
			_ = cmd.Help()
		},
	}
}
