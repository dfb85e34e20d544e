package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/node"
)

// newNodesCmd shows and manages the node registry through the API: the
// worker pools of the servers and the remote workers, their states and
// heartbeats.
func newNodesCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := cf.group("nodes", "Show and manage the nodes that execute runs")

	olderThan := node.DefaultCleanAfter
	clean := &cobra.Command{
		Use:   "clean [--older-than 24h]",
		Short: "Delete inactive nodes silent for longer than --older-than",
		Args:  cobra.NoArgs,
		RunE: checked(need(func() bool { return olderThan > 0 }, "--older-than must be a positive duration such as 24h or 90m"), apiCmd(env, &cf, func(a apiCall) (map[string]int64, error) {
			n, err := a.c.CleanNodes(a.ctx, olderThan)
			return map[string]int64{"deleted": n}, err
		}, func(_ apiCall, n map[string]int64) error {
			return say(env, "deleted %d inactive node(s) silent for more than %s", n["deleted"], olderThan)
		})),
	}
	clean.Flags().DurationVar(&olderThan, "older-than", olderThan, "minimum silence of the inactive nodes to delete")

	setState := func(use, short string, do func(*client.Client, context.Context, string) (*connecthub.Node, error)) *cobra.Command {
		return &cobra.Command{Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
			RunE: apiCmd(env, &cf, func(a apiCall) (*connecthub.Node, error) { return do(a.c, a.ctx, a.args[0]) },
				func(_ apiCall, n *connecthub.Node) error {
					return say(env, "node %s: setting state %s (the node applies it at its next keepalive)", n.Name, n.SettingState)
				})}
	}
	list := listCmd(env, &cf, "List registered nodes", "nodes", (*client.Client).ListNodes,
		"no nodes: start `connecthub serve` (which runs workers unless CONNECTHUB_WORKERS=0) or `connecthub worker`",
		"NAME\tKIND\tSTATE\tSETTING\tRUNNING/MAX\tLAST HEARTBEAT\tQUEUES\tHANDLERS", func(n connecthub.Node) []any {
			return []any{n.Name, n.Kind, n.PresentState, n.SettingState, fmt.Sprintf("%d/%d", n.Running, n.MaxConcurrency),
				fmtTime(env, &n.LastHeartbeat, ""), dash(strings.Join(n.Queues, ",")), handlerSummary(n.Handlers)}
		})
	cmd.AddCommand(list, clean,
		setState("stop", "Stop a node claiming runs; its runs in flight finish", (*client.Client).StopNode),
		setState("start", "Let a stopped node claim runs again", (*client.Client).StartNode))
	return cmd
}

// handlerSummary names a node's first handlers and counts the rest, so a
// server that serves every built-in handler still fits on one line.
func handlerSummary(handlers []connecthub.NodeHandler) string {
	const shown = 3
	if len(handlers) == 0 {
		return "-"
	}
	names := make([]string, 0, shown)
	for i, h := range handlers {
		if i == shown {
			break
		}
		names = append(names, h.Name)
	}
	s := strings.Join(names, ",")
	if extra := len(handlers) - shown; extra > 0 {
		s += ",… (+" + strconv.Itoa(extra) + ")"
	}
	return s
}
