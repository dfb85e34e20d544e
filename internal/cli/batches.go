package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/jobfile"
	"github.com/connecthub/connecthub/internal/timefmt"
)

// batchZone is where batch times are shown: CONNECTHUB_TIMEZONE, the
// server's default zone, else the machine's.
func batchZone(env *Env) *time.Location {
	return timefmt.Location(env.Getenv("CONNECTHUB_TIMEZONE"), time.Local)
}

func newBatchesCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "batches",
		Short: "List and show batches: applies, imports and rollbacks of job definitions",
	}
	cf.register(cmd)
	var limit int
	var cursor string
	list := &cobra.Command{
		Use:   "list",
		Short: "List batches, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			page, err := c.ListBatches(cmd.Context(), limit, cursor)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, page)
			}
			if len(page.Batches) == 0 {
				fmt.Fprintln(env.Stdout, "No batches yet: connecthub apply and import record them.")
				return nil
			}
			loc := batchZone(env)
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREATED\tACTOR\tACTION\tCHANGES\tSOURCE")
			for _, b := range page.Batches {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", b.ID, timefmt.Human(b.CreatedAt, loc), dash(b.Actor), batchAction(&b),
					batchCounts(&b), truncate(batchSource(&b), 60))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.NextCursor != "" {
				fmt.Fprintf(env.Stdout, "more: --cursor %s\n", page.NextCursor)
			}
			return nil
		},
	}
	list.Flags().IntVar(&limit, "limit", 0, "batches per page (default 50)")
	list.Flags().StringVar(&cursor, "cursor", "", "the next page's cursor, as the previous page printed")
	show := &cobra.Command{
		Use:   "show BATCH",
		Short: "Show a batch: every job it touched and the fields it changed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, id, err := batchClient(env, &cf, args[0])
			if err != nil {
				return err
			}
			b, err := c.GetBatch(cmd.Context(), id)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, b)
			}
			fmt.Fprintf(env.Stdout, "batch %d: %s by %s at %s, %s\n", b.ID, batchAction(&b.Batch), dash(b.Actor),
				timefmt.Human(b.CreatedAt, batchZone(env)), batchCounts(&b.Batch))
			if src := batchSource(&b.Batch); src != "" {
				fmt.Fprintf(env.Stdout, "source: %s\n", src)
			}
			plan := make([]connecthub.BatchPlanItem, len(b.Items))
			for i, it := range b.Items {
				plan[i] = connecthub.BatchPlanItem{JobID: it.JobID, Action: it.Op, Changes: it.Changes}
			}
			jobfile.PrintPlan(env.Stdout, plan, useColor(env), false)
			return nil
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

func newRollbackCmd(env *Env) *cobra.Command {
	var (
		cf  clientFlags
		yes bool
	)
	cmd := &cobra.Command{
		Use:   "rollback BATCH",
		Short: "Restore every job a batch touched to its state before it, as a new batch",
		Long: `Restore exactly what a batch changed: each job it touched gets back its
definition and secrets from before the batch (a job it created is deleted,
one it deleted is created again), in one transaction recorded as a batch
of its own. When a job was changed since the batch, nothing changes and the
jobs are named. Asks on a terminal; --yes for scripts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, id, err := batchClient(env, &cf, args[0])
			if err != nil {
				return err
			}
			if !yes {
				b, err := c.GetBatch(cmd.Context(), id)
				if err != nil {
					return err
				}
				ids := make([]string, len(b.Items))
				for i, it := range b.Items {
					ids[i] = it.JobID
				}
				if err := confirm(env, yes, fmt.Sprintf("Roll back batch %d, restoring %d job(s): %s?", id, len(ids), strings.Join(ids, ", "))); err != nil {
					return err
				}
			}
			rb, err := c.RollbackBatch(cmd.Context(), id)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, rb)
			}
			fmt.Fprintf(env.Stdout, "Rolled back batch %d as batch %d: %s.\n", id, rb.ID, batchCounts(&rb.Batch))
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "roll back without asking (for scripts)")
	return cmd
}

// batchClient reads a batch id argument and builds the API client.
func batchClient(env *Env, cf *clientFlags, arg string) (*client.Client, int64, error) {
	id, err := parseBatchID(arg)
	if err != nil {
		return nil, 0, err
	}
	c, err := cf.client(env)
	return c, id, err
}

func batchAction(b *connecthub.Batch) string {
	if b.RollbackOf > 0 {
		return fmt.Sprintf("%s of %d", b.Action, b.RollbackOf)
	}
	return b.Action
}

func batchCounts(b *connecthub.Batch) string {
	return fmt.Sprintf("%d created, %d updated, %d deleted", b.Created, b.Updated, b.Deleted)
}

func batchSource(b *connecthub.Batch) string {
	s := strings.Join(b.Source.Files, ", ")
	if h := b.Source.Hash; h != "" {
		s += " (" + truncate(h, 19) + ")"
	}
	return strings.TrimSpace(s)
}
