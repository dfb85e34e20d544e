package cli

// The workers: the node registry, the queues they claim from, and the
// remote worker program itself.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/handler"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/node"
	"github.com/connecthub/connecthub/internal/server"
	"github.com/connecthub/connecthub/internal/workerapp"
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
		return oneCmd(env, &cf, use+" NAME", short, do, func(_ apiCall, n *connecthub.Node) error {
			return say(env, "node %s: setting state %s (the node applies it at its next keepalive)", n.Name, n.SettingState)
		})
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

// newQueueCmd lists, pauses and resumes queues.
func newQueueCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := cf.group("queue", "List, pause and resume queues")
	list := listCmd(env, &cf, "List the queues with waiting runs or paused", "", (*client.Client).ListQueues,
		"no queued runs and no paused queue", "QUEUE\tSTATE\tDEPTH\tOLDEST", func(q client.Queue) []any {
			state := "running"
			if q.Paused {
				state = "paused"
				if q.Pause != nil && q.Pause.PausedBy != "" {
					state += " by " + q.Pause.PausedBy
				}
			}
			return []any{q.Queue, state, q.Depth, fmt.Sprintf("%.0fs", q.OldestAgeSecond)}
		})
	// The answer is the same text with --json: scripts read the exit code.
	toggle := func(use string, pause bool, short string) *cobra.Command {
		return &cobra.Command{Use: use + " QUEUE", Short: short, Args: cobra.ExactArgs(1), RunE: clientRun(env, &cf, func(a apiCall) error {
			changed, err := a.c.SetQueuePaused(a.ctx, a.args[0], pause)
			switch q := a.args[0]; {
			case err != nil:
				return err
			case pause && changed:
				return say(env, "queue %s paused: its runs wait until `connecthub queue resume %s`", q, q)
			case pause:
				return say(env, "queue %s was already paused", q)
			case changed:
				return say(env, "queue %s resumed", q)
			default:
				return say(env, "queue %s was not paused", q)
			}
		})}
	}
	cmd.AddCommand(list,
		toggle("pause", true, "Pause a queue: workers claim nothing from it"),
		toggle("resume", false, "Resume a paused queue"))
	return cmd
}

// workerFlags are the flags of `connecthub worker`.
type workerFlags struct {
	server, token, name, queues, concurrency, controlListen, dataDir string
	labels                                                           map[string]string
}

func newWorkerCmd(env *Env) *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker --server URL --token TOKEN",
		Short: "Run a remote worker that pulls runs from a server over the worker protocol",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(env.Getenv, env.DotEnv,
				config.Override{Variable: "CONNECTHUB_SERVER_URL", Value: f.server, Flag: "--server"},
				config.Override{Variable: "CONNECTHUB_WORKER_TOKEN", Value: f.token, Flag: "--token"},
				config.Override{Variable: "CONNECTHUB_WORKERS", Value: f.concurrency, Flag: "--concurrency"},
				config.Override{Variable: "CONNECTHUB_QUEUES", Value: f.queues, Flag: "--queues"},
				config.Override{Variable: "CONNECTHUB_DATA_DIR", Value: f.dataDir, Flag: "--data-dir"},
			)
			if err != nil {
				return err
			}
			return runWorker(cmd.Context(), env, cfg, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "server URL (CONNECTHUB_SERVER_URL, default http://127.0.0.1:8000)")
	fl.StringVar(&f.token, "token", "", "worker token (CONNECTHUB_WORKER_TOKEN; else the admin token as for client commands)")
	fl.StringVar(&f.name, "name", "", "node name, unique among the nodes (default hostname-pid)")
	fl.StringVar(&f.queues, "queues", "", "comma-separated queues to claim from (CONNECTHUB_QUEUES, default default)")
	fl.StringVar(&f.concurrency, "concurrency", "", "runs executed at once (CONNECTHUB_WORKERS, default 20)")
	fl.StringVar(&f.controlListen, "control-listen", workerapp.DefaultControlListen, "address of the control port (proc API, health, metrics)")
	fl.StringVar(&f.dataDir, "data-dir", "", "where to find admin.token when no token is given (CONNECTHUB_DATA_DIR)")
	fl.StringToStringVar(&f.labels, "label", nil, "a label of the node, key=value (repeatable; shown in the registry and Prometheus SD)")
	return cmd
}

// runWorker runs `connecthub worker`, the program of internal/workerapp,
// with the stock handlers and the extra ones of env.
func runWorker(ctx context.Context, env *Env, cfg *config.Config, f *workerFlags) error {
	reg, err := server.Handlers(cfg, handler.Default(), env.Registry)
	if err != nil {
		return err
	}
	w, err := workerapp.New(cfg, workerapp.Options{Name: f.name, ControlListen: f.controlListen,
		Labels: f.labels, Handlers: reg, LogOutput: env.Stderr})
	var usage *workerapp.UsageError
	if errors.As(err, &usage) {
		return usageError("%v", usage.Err)
	}
	if err != nil {
		return err
	}
	defer env.notifyReady(w.Ready(), w.ControlAddr)()
	return w.Run(ctx)
}
