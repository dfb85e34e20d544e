package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub/calendar"
	"github.com/connecthub/connecthub/client"
)

// newCalendarCmd manages the working-day calendars jobs name in their
// calendar field.
func newCalendarCmd(env *Env) *cobra.Command {
	var cf clientFlags
	cmd := cf.group("calendar", "Manage working-day calendars (holidays and make-up workdays)")

	list := listCmd(env, &cf, "List calendars with the years they cover", "", (*client.Client).ListCalendars,
		"no calendars", "NAME\tBUILT-IN\tYEARS\tDAYS\tDESCRIPTION", func(cal client.Calendar) []any {
			years := make([]string, len(cal.Years))
			for i, y := range cal.Years {
				years[i] = fmt.Sprint(y)
			}
			return []any{cal.Name, map[bool]string{true: "yes", false: "no"}[cal.Builtin], dash(strings.Join(years, ",")), len(cal.Days), cal.Description}
		})

	get := &cobra.Command{
		Use: "get NAME", Short: "Show a calendar's days (with --json: the document `calendar put` takes)", Args: cobra.ExactArgs(1),
		RunE: apiCmd(env, &cf, func(a apiCall) (calendarDoc, error) {
			cal, err := a.c.GetCalendar(a.ctx, a.args[0])
			return calendarDoc{cal}, err
		}, func(_ apiCall, doc calendarDoc) error {
			fmt.Fprintf(env.Stdout, "%s: %s\n", doc.Name, doc.Description)
			for y, src := range doc.Sources {
				fmt.Fprintf(env.Stdout, "  %s: %s\n", y, src)
			}
			return table(env, doc.Days, "no days", "DATE\tWEEKDAY\tKIND\tNAME", func(d calendar.Day) []any {
				wd := ""
				if t, err := time.Parse("2006-01-02", d.Date); err == nil {
					wd = t.Weekday().String()[:3]
				}
				return []any{d.Date, wd, d.Kind, d.Name}
			})
		}),
	}

	var file string
	put := &cobra.Command{
		Use:   "put NAME -f FILE",
		Short: "Create or replace a calendar from a JSON file (- for stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageError("-f FILE is required (- reads stdin)")
			}
			body, err := readFileArg(env, file)
			if err != nil {
				return usageError("read %s: %v", file, err)
			}
			return apiCmd(env, &cf, func(a apiCall) (*client.SavedCalendar, error) { return a.c.PutCalendar(a.ctx, a.args[0], body) },
				func(_ apiCall, saved *client.SavedCalendar) error {
					return say(env, "calendar %s saved: %d days; %d job(s) re-planned", saved.Calendar.Name, len(saved.Calendar.Days), saved.JobsReplanned)
				})(cmd, args)
		},
	}
	put.Flags().StringVarP(&file, "file", "f", "", "the calendar's JSON file, or - for stdin (required)")

	del := actCmd(env, &cf, "delete NAME", "Delete a calendar that no job uses", (*client.Client).DeleteCalendar, "calendar %s deleted")
	cmd.AddCommand(list, get, put, del)
	return cmd
}

// calendarDoc is a calendar as `calendar get --json` prints it: the
// document `calendar put` takes.
type calendarDoc struct{ *client.Calendar }

func (d calendarDoc) jsonValue() any {
	return map[string]any{"name": d.Name, "description": d.Description, "sources": d.Sources, "days": d.Days}
}

// cronNextOnServer is `cron next --calendar`: calendars live in the
// server's database, so the preview is the server's.
func cronNextOnServer(env *Env, cf *clientFlags, req *client.CronPreviewRequest) runE {
	return apiCmd(env, cf, func(a apiCall) (*client.CronPreview, error) { return a.c.CronPreview(a.ctx, *req) }, func(_ apiCall, p *client.CronPreview) error {
		for _, t := range p.Times {
			fmt.Fprintln(env.Stdout, t)
		}
		if len(p.Skipped) > 0 {
			fmt.Fprintf(env.Stderr, "skipped on the way (%d):\n", len(p.Skipped))
			for _, s := range p.Skipped {
				fmt.Fprintf(env.Stderr, "  %s  %s\n", s.Time, s.Reason)
			}
		}
		return nil
	})
}
