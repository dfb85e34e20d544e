package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/jobfile"
)

// Configuration as code: export jobs to YAML, apply YAML files as one
// batch, report drift, list batches and roll them back. Every command
// talks to the server through the API.

// addYAMLExport makes `connecthub export` itself write job definitions
// as YAML; its subcommands (python) keep their own meaning.
func addYAMLExport(env *Env, cmd *cobra.Command) {
	var (
		cf        clientFlags
		glob, out string
	)
	cmd.Args = cobra.NoArgs
	cmd.RunE = checked(func([]string) error {
		if _, err := jobfile.Select(nil, glob); err != nil {
			return usageError("--job %v", err)
		}
		return nil
	}, func(cmd *cobra.Command, _ []string) error {
		c, err := cf.client(env)
		if err != nil {
			return err
		}
		jobs, err := c.Jobs.All(cmd.Context(), client.JobFilter{})
		if err != nil {
			return err
		}
		picked, _ := jobfile.Select(jobs, glob)
		if glob != "" && len(picked) == 0 {
			return &exitError{code: 1, err: fmt.Errorf("no job matches %q", glob)}
		}
		w := env.Stdout
		if out != "" {
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		if err := jobfile.Export(w, picked, time.Now()); err != nil || out == "" {
			return err
		}
		fmt.Fprintf(env.Stderr, "wrote %d job(s) to %s\n", len(picked), out)
		return nil
	})
	cf.registerLocal(cmd)
	cmd.Flags().StringVar(&glob, "job", "", "export only the jobs whose id matches this glob (oa.*)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
}

// isTerminal reports whether v is a terminal (a character device).
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// useColor: colours on a terminal, unless NO_COLOR is set.
func useColor(env *Env) bool {
	return isTerminal(env.Stdout) && env.Getenv("NO_COLOR") == ""
}

// confirm asks a yes/no question on the terminal; without one it refuses
// unless --yes was given, so that a script never applies by accident.
func confirm(env *Env, yes bool, question string) error {
	if yes {
		return nil
	}
	if !isTerminal(env.Stdin) || !isTerminal(env.Stdout) {
		return usageError("not a terminal: pass --yes to go ahead without a confirmation")
	}
	fmt.Fprintf(env.Stdout, "%s [y/N] ", question)
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return &exitError{code: 1, err: errors.New("cancelled: nothing was changed")}
	}
	return nil
}

// loadFiles reads the definition files, or says every problem in them.
func loadFiles(env *Env, files []string) (*jobfile.Set, error) {
	if len(files) == 0 {
		return nil, usageError("-f FILE or -f DIR is required")
	}
	set, err := jobfile.Load(files, env.Getenv)
	if err != nil {
		var errs jobfile.Errors
		if errors.As(err, &errs) {
			return nil, &exitError{code: 1, err: fmt.Errorf("%s\n%d problem(s); nothing was applied", err, len(errs))}
		}
		return nil, &exitError{code: 1, err: err}
	}
	return set, nil
}

type applyFlags struct {
	cf                         clientFlags
	files                      []string
	prune, dryRun, yes, verbos bool
}

// register adds the flags apply and diff share; prune says what --prune
// does to the jobs the files do not name.
func (f *applyFlags) register(cmd *cobra.Command, prune string) {
	f.cf.register(cmd)
	cmd.Flags().StringArrayVarP(&f.files, "file", "f", nil, "a YAML file or a directory of them (repeatable)")
	cmd.Flags().BoolVar(&f.prune, "prune", false, prune)
	cmd.Flags().BoolVarP(&f.verbos, "verbose", "v", false, "list unchanged jobs too")
}

func newApplyCmd(env *Env) *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Apply job definitions from YAML files as one batch: all or nothing",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runApply(cmd.Context(), env, &f) },
	}
	f.register(cmd, "delete the jobs the files do not name")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "show the plan; change nothing")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "apply without asking (for scripts)")
	return cmd
}

// planFiles loads the files and asks the server for their plan (a dry
// run), returning the client and the request for an apply that follows.
func planFiles(ctx context.Context, env *Env, f *applyFlags) (*client.Client, connecthub.BatchApplyRequest, *connecthub.BatchApplyResult, error) {
	var req connecthub.BatchApplyRequest
	set, err := loadFiles(env, f.files)
	if err != nil {
		return nil, req, nil, err
	}
	c, err := f.cf.client(env)
	if err != nil {
		return nil, req, nil, err
	}
	req = connecthub.BatchApplyRequest{Documents: set.Documents, Source: set.Source, Prune: f.prune}
	plan, err := c.Batches.Plan(ctx, req)
	return c, req, plan, err
}

func runApply(ctx context.Context, env *Env, f *applyFlags) error {
	c, req, plan, err := planFiles(ctx, env, f)
	if err != nil {
		return err
	}
	if f.cf.asJSON && (f.dryRun || !plan.Changed()) {
		return writeJSONOut(env, plan)
	}
	counts := jobfile.PrintPlan(env.Stdout, plan.Plan, useColor(env), f.verbos)
	if f.dryRun {
		fmt.Fprintln(env.Stdout, "Dry run: nothing was changed.")
		return nil
	}
	if !counts.Changed() {
		fmt.Fprintln(env.Stdout, "Nothing to apply: the server matches the files.")
		return nil
	}
	question := "Apply these changes?"
	if counts.Delete > 0 {
		question = fmt.Sprintf("This DELETES %d job(s) with their runs: %s.\nApply these changes?", counts.Delete, strings.Join(jobfile.Deleted(plan.Plan), ", "))
	}
	if err := confirm(env, f.yes, question); err != nil {
		return err
	}
	res, err := c.Batches.Apply(ctx, req)
	if err != nil {
		return err
	}
	if f.cf.asJSON {
		return writeJSONOut(env, res)
	}
	if jobfile.CountPlan(res.Plan) != counts {
		fmt.Fprintln(env.Stdout, "The jobs changed while you looked; what was applied:")
		jobfile.PrintPlan(env.Stdout, res.Plan, useColor(env), f.verbos)
	}
	if res.Batch != nil {
		fmt.Fprintf(env.Stdout, "Applied as batch %d (undo with: connecthub rollback %d).\n", res.Batch.ID, res.Batch.ID)
	} else {
		fmt.Fprintln(env.Stdout, "Nothing to apply: the server matches the files.")
	}
	return nil
}

func newDiffCmd(env *Env) *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "diff -f DIR",
		Short: "Report drift between job definition files and the server (exit 1 on any)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, _, res, err := planFiles(cmd.Context(), env, &f)
			if err != nil {
				return err
			}
			var counts jobfile.Counts
			if f.cf.asJSON {
				if err := writeJSONOut(env, res); err != nil {
					return err
				}
				counts = jobfile.CountPlan(res.Plan)
			} else {
				counts = jobfile.PrintPlan(env.Stdout, res.Plan, useColor(env), f.verbos)
			}
			if counts.Changed() {
				return &exitError{code: 1, err: errors.New("drift: the server differs from the files"), silent: f.cf.asJSON}
			}
			return nil
		},
	}
	f.register(cmd, "count jobs the files do not name as drift")
	return cmd
}

func newBatchesCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := cf.group("batches", "List and show batches: applies, imports and rollbacks of job definitions")
	var page client.Page
	list := &cobra.Command{Use: "list", Short: "List batches, newest first", Args: cobra.NoArgs,
		RunE: apiCmd(env, &cf, func(a apiCall) (*client.BatchList, error) { return a.c.Batches.List(a.ctx, page) },
			func(_ apiCall, page *client.BatchList) error {
				return tablePage(env, page.Batches, page.NextCursor, "No batches yet: connecthub apply and import record them.", "ID\tCREATED\tACTOR\tACTION\tCHANGES\tSOURCE",
					func(b connecthub.Batch) []any {
						return []any{b.ID, fmtTime(env, &b.CreatedAt, ""), dash(b.Actor), batchAction(&b), batchCounts(&b), truncate(batchSource(&b), 60)}
					})
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
					fmtTime(env, &b.CreatedAt, ""), batchCounts(&b.Batch))
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
