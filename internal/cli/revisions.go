package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// addRevisionCmds adds the revision commands to `connecthub job`: list a
// job's revisions, diff two, restore one, and list deleted jobs.
func addRevisionCmds(job *cobra.Command, cf *clientFlags, env *Env) {
	var limit int
	var cursor string
	revisions := &cobra.Command{
		Use: "revisions ID", Short: "List a job's revisions, newest first (a deleted job's too)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			query := url.Values{"limit": {strconv.Itoa(limit)}}
			setIf(query, "cursor", cursor)
			page, err := c.ListRevisions(cmd.Context(), args[0], query)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, page)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REV\tACTION\tACTOR\tAT\tSOURCE\tSECRET KEYS")
			for _, r := range page.Revisions {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Revision, r.Action, r.Actor, fmtTime(env, &r.At, ""), dash(r.Source),
					dash(strings.Join(r.SecretKeys, ",")))
			}
			if page.NextCursor != "" {
				fmt.Fprintf(tw, "(more: --cursor %s)\n", page.NextCursor)
			}
			return tw.Flush()
		},
	}
	revisions.Flags().IntVar(&limit, "limit", 50, "page size (max 500)")
	revisions.Flags().StringVar(&cursor, "cursor", "", "the next_cursor of the previous page")

	diff := &cobra.Command{
		Use: "diff ID A B", Short: "Show what changed between two revisions of a job, field by field", Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := revisionArg("A", args[1])
			if err != nil {
				return err
			}
			b, err := revisionArg("B", args[2])
			if err != nil {
				return err
			}
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			d, err := c.DiffRevisions(cmd.Context(), args[0], a, b)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, d)
			}
			if len(d.Changes) == 0 {
				fmt.Fprintf(env.Stdout, "revisions %d and %d of %s do not differ\n", a, b, args[0])
				return nil
			}
			for _, ch := range d.Changes {
				fmt.Fprintf(env.Stdout, "%s\n%s%s", ch.Field, diffLines("  - ", ch.Before), diffLines("  + ", ch.After))
			}
			return nil
		},
	}

	restore := &cobra.Command{
		Use: "restore ID N", Short: "Make revision N the job's definition again, secrets included (re-creates a deleted job)",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := revisionArg("N", args[1])
			if err != nil {
				return err
			}
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			j, err := c.RestoreRevision(cmd.Context(), args[0], n)
			if err != nil {
				return err
			}
			if !cf.asJSON {
				fmt.Fprintf(env.Stdout, "restored job %s from revision %d\n", args[0], n)
			}
			return printSavedJob(env, j, cf.asJSON)
		},
	}

	var delLimit int
	var delCursor string
	deleted := &cobra.Command{
		Use: "deleted", Short: "List deleted jobs that can be restored from their revisions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client(env)
			if err != nil {
				return err
			}
			query := url.Values{"limit": {strconv.Itoa(delLimit)}}
			setIf(query, "cursor", delCursor)
			page, err := c.ListDeletedJobs(cmd.Context(), query)
			if err != nil {
				return err
			}
			if cf.asJSON {
				return writeJSONOut(env, page)
			}
			if len(page.Jobs) == 0 {
				fmt.Fprintln(env.Stdout, "no deleted jobs with revisions")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tLAST REV\tACTION\tBY\tAT")
			for _, d := range page.Jobs {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", d.JobID, d.Last.Revision, d.Last.Action, d.Last.Actor, fmtTime(env, &d.Last.At, ""))
			}
			if page.NextCursor != "" {
				fmt.Fprintf(tw, "(more: --cursor %s)\n", page.NextCursor)
			}
			return tw.Flush()
		},
	}
	deleted.Flags().IntVar(&delLimit, "limit", 50, "page size (max 500)")
	deleted.Flags().StringVar(&delCursor, "cursor", "", "the next_cursor of the previous page")

	job.AddCommand(revisions, diff, restore, deleted)
}

// revisionArg reads a revision number argument.
func revisionArg(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, usageError("%s must be a revision number (1 or more), not %q", name, v)
	}
	return n, nil
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
