package jobfile

import (
	"fmt"
	"io"
	"strings"

	"github.com/connecthub/connecthub"
)

// ANSI colours of the plan: green adds, yellow changes, red deletes.
const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	dim    = "\x1b[2m"
	reset  = "\x1b[0m"
)

// Counts tallies a plan by action.
type Counts struct {
	Create, Update, Delete, Unchanged int
}

// Changed reports whether the plan changes anything.
func (c Counts) Changed() bool { return c.Create+c.Update+c.Delete > 0 }

// Summary is the one-line count of a plan.
func (c Counts) Summary() string {
	return fmt.Sprintf("%d to create, %d to update, %d to delete, %d unchanged", c.Create, c.Update, c.Delete, c.Unchanged)
}

// CountPlan tallies a plan by action.
func CountPlan(plan []connecthub.BatchPlanItem) Counts {
	var c Counts
	for _, p := range plan {
		switch p.Action {
		case connecthub.BatchCreate:
			c.Create++
		case connecthub.BatchUpdate:
			c.Update++
		case connecthub.BatchDelete:
			c.Delete++
		default:
			c.Unchanged++
		}
	}
	return c
}

// PrintPlan writes a plan field by field: "+ job" and its fields for a
// create, "~ job" and each changed field before → after for an update,
// "- job" for a delete; unchanged jobs only when verbose. color adds ANSI
// colours (for a terminal). It ends with the counts.
func PrintPlan(w io.Writer, plan []connecthub.BatchPlanItem, color, verbose bool) Counts {
	paint := func(c, s string) string {
		if !color {
			return s
		}
		return c + s + reset
	}
	for _, p := range plan {
		switch p.Action {
		case connecthub.BatchCreate:
			fmt.Fprintln(w, paint(green, "+ create "+p.JobID))
			for _, ch := range p.Changes {
				fmt.Fprintln(w, paint(green, "    "+ch.Field+": "+show(ch.After)))
			}
		case connecthub.BatchUpdate:
			fmt.Fprintln(w, paint(yellow, "~ update "+p.JobID))
			for _, ch := range p.Changes {
				if ch.Field == "secret_cfg" {
					fmt.Fprintln(w, "    "+paint(yellow, "secret_cfg: "+ch.After))
					continue
				}
				fmt.Fprintln(w, "    "+ch.Field+": "+paint(red, show(ch.Before))+" → "+paint(green, show(ch.After)))
			}
		case connecthub.BatchDelete:
			fmt.Fprintln(w, paint(red, "- delete "+p.JobID))
		default:
			if verbose {
				fmt.Fprintln(w, paint(dim, "= unchanged "+p.JobID))
			}
		}
	}
	c := CountPlan(plan)
	fmt.Fprintln(w, "Plan: "+c.Summary()+".")
	return c
}

// show quotes a value that would otherwise read as nothing or as two.
func show(s string) string {
	if s == "" || strings.TrimSpace(s) != s || strings.ContainsAny(s, "\n") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
