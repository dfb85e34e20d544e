package cli

import (
	"fmt"
	"strconv"
	"strings"
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
	cmd := cf.group("batches", "List and show batches: applies, imports and rollbacks of job definitions")
	var page client.Page
	list := &cobra.Command{Use: "list", Short: "List batches, newest first", Args: cobra.NoArgs,
		RunE: apiCmd(env, &cf, func(a apiCall) (*client.BatchList, error) { return a.c.Batches.List(a.ctx, page) },
			func(_ apiCall, page *client.BatchList) error {
				loc := batchZone(env)
				err := table(env, page.Batches, "No batches yet: connecthub apply and import record them.", "ID\tCREATED\tACTOR\tACTION\tCHANGES\tSOURCE",
					func(b connecthub.Batch) []any {
						return []any{b.ID, timefmt.Human(b.CreatedAt, loc), dash(b.Actor), batchAction(&b), batchCounts(&b), truncate(batchSource(&b), 60)}
					})
				if err != nil || len(page.Batches) == 0 {
					return err
				}
				return more(env, "more: --cursor %s", page.NextCursor)
			})}
	list.Flags().IntVar(&page.Limit, "limit", 0, "batches per page (default 50)")
	list.Flags().StringVar(&page.Cursor, "cursor", "", "the next page's cursor, as the previous page printed")
	show := &cobra.Command{
		Use:   "show BATCH",
		Short: "Show a batch: every job it touched and the fields it changed",
		Args:  cobra.ExactArgs(1),
		RunE: checked(batchArg, apiCmd(env, &cf, func(a apiCall) (*client.Batch, error) { return a.c.GetBatch(a.ctx, batchID(a.args[0])) },
			func(_ apiCall, b *client.Batch) error {
				fmt.Fprintf(env.Stdout, "batch %d: %s by %s at %s, %s\n", b.ID, batchAction(&b.Batch), dash(b.Actor),
					timefmt.Human(b.CreatedAt, batchZone(env)), batchCounts(&b.Batch))
				if src := batchSource(&b.Batch); src != "" {
					fmt.Fprintf(env.Stdout, "source: %s\n", src)
				}
				jobfile.PrintPlan(env.Stdout, b.Plan(), useColor(env), false)
				return nil
			})),
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
		Args:  cobra.ExactArgs(1),
		RunE: checked(batchArg, apiCmd(env, &cf, func(a apiCall) (*client.Batch, error) {
			id := batchID(a.args[0])
			if !yes {
				b, err := a.c.GetBatch(a.ctx, id)
				if err != nil {
					return nil, err
				}
				ids := make([]string, len(b.Items))
				for i, it := range b.Items {
					ids[i] = it.JobID
				}
				if err := confirm(env, yes, fmt.Sprintf("Roll back batch %d, restoring %d job(s): %s?", id, len(ids), strings.Join(ids, ", "))); err != nil {
					return nil, err
				}
			}
			return a.c.RollbackBatch(a.ctx, id)
		}, func(a apiCall, rb *client.Batch) error {
			return say(env, "Rolled back batch %d as batch %d: %s.", batchID(a.args[0]), rb.ID, batchCounts(&rb.Batch))
		})),
	}
	cf.register(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "roll back without asking (for scripts)")
	return cmd
}

// batchArg checks a batch id argument (#12 or 12, as batches list shows).
func batchArg(args []string) error {
	if batchID(args[0]) <= 0 {
		return usageError("%q is not a batch id (a number, as batches list shows)", args[0])
	}
	return nil
}

// batchID reads a batch id argument, 0 when it is none.
func batchID(s string) int64 {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
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
