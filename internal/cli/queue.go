package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/client"
)

// newQueueCmd lists, pauses and resumes queues.
func newQueueCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "List, pause and resume queues",
	}
	cf.register(cmd)
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
	toggle := func(use string, pause bool, short string) *cobra.Command {
		return &cobra.Command{
			Use: use + " QUEUE", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := cf.client(env)
				if err != nil {
					return err
				}
				changed, err := c.SetQueuePaused(cmd.Context(), args[0], pause)
				if err != nil {
					return err
				}
				switch {
				case pause && changed:
					fmt.Fprintf(env.Stdout, "queue %s paused: its runs wait until `connecthub queue resume %s`\n", args[0], args[0])
				case pause:
					fmt.Fprintf(env.Stdout, "queue %s was already paused\n", args[0])
				case changed:
					fmt.Fprintf(env.Stdout, "queue %s resumed\n", args[0])
				default:
					fmt.Fprintf(env.Stdout, "queue %s was not paused\n", args[0])
				}
				return nil
			},
		}
	}
	cmd.AddCommand(list,
		toggle("pause", true, "Pause a queue: workers claim nothing from it"),
		toggle("resume", false, "Resume a paused queue"))
	return cmd
}
