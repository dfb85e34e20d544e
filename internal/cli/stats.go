package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/dbadmin"
)

func newStatsCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "stats", Short: "Maintain the run counts behind the stats, the metrics and the dashboard"}
	var flags serverFlags
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Recompute the run counts from the runs table",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			s, took, err := dbadmin.RebuildStats(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			var total int64
			parts := []string{}
			for _, status := range connecthub.AllStatuses {
				if status.Terminal() {
					total += s.Runs[status]
					parts = append(parts, fmt.Sprintf("%s %d", status, s.Runs[status]))
				}
			}
			fmt.Fprintf(env.Stdout, "rebuilt the run counts in %s: %d finished runs (%s)\n",
				took.Round(time.Millisecond), total, strings.Join(parts, ", "))
			return nil
		},
	}
	flags.register(rebuild, false)
	cmd.AddCommand(rebuild)
	return cmd
}
