package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
)

// addRevisionCmds adds the revision commands to `connecthub job`: list a
// job's revisions, diff two, restore one, and list deleted jobs.
func addRevisionCmds(job *cobra.Command, cf *clientFlags, env *Env) {
	var page, delPage client.Page
	revisions := &cobra.Command{
		Use: "revisions ID", Short: "List a job's revisions, newest first (a deleted job's too)", Args: cobra.ExactArgs(1),
		RunE: apiCmd(env, cf, func(a apiCall) (*client.RevisionList, error) { return a.c.Revisions.List(a.ctx, a.args[0], page) },
			func(_ apiCall, page *client.RevisionList) error {
				err := table(env, page.Revisions, "", "REV\tACTION\tACTOR\tAT\tSOURCE\tSECRET KEYS", func(r connecthub.Revision) []any {
					return []any{r.Revision, r.Action, r.Actor, fmtTime(env, &r.At, ""), dash(r.Source), dash(strings.Join(r.SecretKeys, ","))}
				})
				if err != nil {
					return err
				}
				return more(env, "(more: --cursor %s)", page.NextCursor)
			}),
	}
	pageFlags(revisions, &page)

	diff := &cobra.Command{
		Use: "diff ID A B", Short: "Show what changed between two revisions of a job, field by field", Args: cobra.ExactArgs(3),
		RunE: checked(func(args []string) error { return revisionArgs(args[1:], "A", "B") },
			apiCmd(env, cf, func(a apiCall) (*connecthub.RevisionDiff, error) {
				return a.c.DiffRevisions(a.ctx, a.args[0], revisionNumber(a.args[1]), revisionNumber(a.args[2]))
			}, func(a apiCall, d *connecthub.RevisionDiff) error {
				if len(d.Changes) == 0 {
					return say(env, "revisions %d and %d of %s do not differ", revisionNumber(a.args[1]), revisionNumber(a.args[2]), a.args[0])
				}
				for _, ch := range d.Changes {
					fmt.Fprintf(env.Stdout, "%s\n%s%s", ch.Field, diffLines("  - ", ch.Before), diffLines("  + ", ch.After))
				}
				return nil
			})),
	}

	restore := &cobra.Command{
		Use: "restore ID N", Short: "Make revision N the job's definition again, secrets included (re-creates a deleted job)",
		Args: cobra.ExactArgs(2),
		RunE: checked(func(args []string) error { return revisionArgs(args[1:], "N") },
			apiCmd(env, cf, func(a apiCall) (*client.SavedJob, error) {
				return a.c.RestoreRevision(a.ctx, a.args[0], revisionNumber(a.args[1]))
			}, func(a apiCall, j *client.SavedJob) error {
				fmt.Fprintf(env.Stdout, "restored job %s from revision %d\n", a.args[0], revisionNumber(a.args[1]))
				return env.printSavedJob(a, j)
			})),
	}

	deleted := &cobra.Command{
		Use: "deleted", Short: "List deleted jobs that can be restored from their revisions", Args: cobra.NoArgs,
		RunE: apiCmd(env, cf, func(a apiCall) (*client.DeletedJobList, error) { return a.c.Revisions.Deleted(a.ctx, delPage) },
			func(_ apiCall, page *client.DeletedJobList) error {
				err := table(env, page.Jobs, "no deleted jobs with revisions", "ID\tLAST REV\tACTION\tBY\tAT", func(d connecthub.DeletedJob) []any {
					return []any{d.JobID, d.Last.Revision, d.Last.Action, d.Last.Actor, fmtTime(env, &d.Last.At, "")}
				})
				if err != nil || len(page.Jobs) == 0 {
					return err
				}
				return more(env, "(more: --cursor %s)", page.NextCursor)
			}),
	}
	pageFlags(deleted, &delPage)
	job.AddCommand(revisions, diff, restore, deleted)
}

// pageFlags are --limit and --cursor of a paged list.
func pageFlags(cmd *cobra.Command, p *client.Page) {
	cmd.Flags().IntVar(&p.Limit, "limit", 50, "page size (max 500)")
	cmd.Flags().StringVar(&p.Cursor, "cursor", "", "the next_cursor of the previous page")
}

// revisionArgs checks revision number arguments, named as the usage line
// names them.
func revisionArgs(args []string, names ...string) error {
	for i, v := range args {
		if revisionNumber(v) < 1 {
			return usageError("%s must be a revision number (1 or more), not %q", names[i], v)
		}
	}
	return nil
}

// revisionNumber reads a revision number argument, 0 when it is none.
func revisionNumber(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// diffLines prefixes every line of a value ("" shows as nothing at all).
func diffLines(prefix, v string) string {
	if v == "" {
		return prefix + "(none)\n"
	}
	var b strings.Builder
	for line := range strings.SplitSeq(v, "\n") {
		b.WriteString(prefix + line + "\n")
	}
	return b.String()
}
