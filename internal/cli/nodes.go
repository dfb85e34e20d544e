package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

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
	cmd := &cobra.Command{Use: "nodes", Short: "Show and manage the nodes that execute runs"}
	cf.register(cmd)

	list := &cobra.Command{
		Use: "list", Short: "List registered nodes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			nodes, err := c.ListNodes(cmd.Context())
			if err != nil {
				return err
			}
			if cf.asJSON {
				if nodes == nil {
					nodes = []connecthub.Node{}
				}
				return writeJSONOut(env, map[string]any{"nodes": nodes})
			}
			if len(nodes) == 0 {
				fmt.Fprintln(env.Stdout, "no nodes: start `connecthub serve` (which runs workers unless CONNECTHUB_WORKERS=0) or `connecthub worker`")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tSTATE\tSETTING\tRUNNING/MAX\tLAST HEARTBEAT\tQUEUES\tHANDLERS")
			for _, n := range nodes {
				hb := n.LastHeartbeat
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", n.Name, n.Kind, n.PresentState, n.SettingState,
					n.Running, n.MaxConcurrency, fmtTime(env, &hb, ""), dash(strings.Join(n.Queues, ",")), handlerSummary(n.Handlers))
			}
			return tw.Flush()
		},
	}

	olderThan := node.DefaultCleanAfter
	clean := &cobra.Command{
		Use:   "clean [--older-than 24h]",
		Short: "Delete inactive nodes silent for longer than --older-than",
		Long: "Delete the registrations of inactive nodes (declared dead, or gone without\n" +
			"a prestop) whose last heartbeat is older than --older-than. Live nodes are\n" +
			"never deleted, and a cleaned node that comes back simply registers again.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if olderThan <= 0 {
				return usageError("--older-than must be a positive duration such as 24h or 90m")
			}
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			n, err := c.CleanNodes(cmd.Context(), olderThan)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, map[string]int64{"deleted": n})
			}
			fmt.Fprintf(env.Stdout, "deleted %d inactive node(s) silent for more than %s\n", n, olderThan)
			return nil
		},
	}
	clean.Flags().DurationVar(&olderThan, "older-than", olderThan, "minimum silence of the inactive nodes to delete")

	setState := func(use, short string, do func(*client.Client, *cobra.Command, string) (*connecthub.Node, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := cf.client(env)
				if err != nil {
					return err
				}
				n, err := do(c, cmd, args[0])
				if err != nil {
					return err
				}
				if cf.asJSON {
					return writeJSONOut(env, n)
				}
				fmt.Fprintf(env.Stdout, "node %s: setting state %s (the node applies it at its next keepalive)\n", n.Name, n.SettingState)
				return nil
			},
		}
	}
	stop := setState("stop", "Stop a node claiming runs; its runs in flight finish",
		func(c *client.Client, cmd *cobra.Command, name string) (*connecthub.Node, error) {
			return c.StopNode(cmd.Context(), name)
		})
	start := setState("start", "Let a stopped node claim runs again",
		func(c *client.Client, cmd *cobra.Command, name string) (*connecthub.Node, error) {
			return c.StartNode(cmd.Context(), name)
		})

	cmd.AddCommand(list, clean, stop, start)
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
