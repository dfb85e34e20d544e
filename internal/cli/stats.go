package cli

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/server"
)

// statsRebuildLong is the help of `stats rebuild`.
const statsRebuildLong = `Recompute the maintained run counts (by job and status, and by hour for
the last two days) from the runs table, in one transaction.

The counts behind /api/v1/stats, /metrics and the dashboard are kept by the
database in the transaction of every write to runs, so they do not drift;
this is the repair for counts that a manual edit of the database or a bug
put wrong. It reads every run once, so on a large history it takes a
while, and writers to runs wait for it (servers may keep running).

Examples:
  connecthub stats rebuild
  CONNECTHUB_DB_URL=postgres://... connecthub stats rebuild`

func newStatsCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "stats", Short: "Maintain the run counts behind the stats, the metrics and the dashboard"}
	var flags serverFlags
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Recompute the run counts from the runs table",
		Long:  statsRebuildLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load(env)
			if err != nil {
				return err
			}
			st, err := server.OpenStore(cmd.Context(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			defer st.Close()
			start := time.Now()
			if err := st.StatsRebuild(cmd.Context(), start); err != nil {
				return fmt.Errorf("rebuild the run counts: %w", err)
			}
			s, err := st.Stats(cmd.Context(), time.Now())
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
				time.Since(start).Round(time.Millisecond), total, strings.Join(parts, ", "))
			return nil
		},
	}
	flags.register(rebuild, false)
	cmd.AddCommand(rebuild)
	return cmd
}

// lastRunCell is the LAST RUN column of `job list`: how the job's newest
// finished run ended.
func lastRunCell(j *connecthub.Job) string {
	if j.LastRun == nil {
		return "-"
	}
	return string(j.LastRun.Status)
}

// lastRunLine describes the job's newest finished run for `job get`.
func lastRunLine(env *Env, j *connecthub.Job) string {
	r := j.LastRun
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%s %s (%s) finished %s", r.ID, r.Status, r.Trigger, fmtTime(env, r.FinishedAt, j.Timezone))
}

// durationsLine summarises the durations of the job's last successful
// runs for `job get`.
func durationsLine(d *connecthub.DurationStats) string {
	if d.Runs == 0 {
		return "- (no successful run yet)"
	}
	return fmt.Sprintf("median %s, p95 %s (last %d successful runs)", d.Median, d.P95, d.Runs)
}
