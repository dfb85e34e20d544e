package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/client"
)

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
