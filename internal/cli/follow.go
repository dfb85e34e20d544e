package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/timefmt"
)

// followRun tells a person what a run does while it does it: on stderr
// when and where it started, on stdout its log as it comes (times in the
// job's timezone), and at the end on stderr its status, message and error,
// which is what one needs to read a failure. It exits non-zero unless the
// run succeeded, so scripts can `connecthub job run X -f && next-step`.
func followRun(ctx context.Context, env *Env, c *client.Client, id string) error {
	var loc *time.Location
	final, err := c.Runs.Follow(ctx, id, client.RunFollow{
		Seen: func(r *connecthub.Run) io.Writer {
			if r.Status == connecthub.StatusQueued {
				fmt.Fprintf(env.Stderr, "run %s of job %s queued (%s), waiting for a worker…\n", r.ID, r.JobID, r.Trigger)
			}
			loc = newZones(env, c).of(ctx, r.JobID)
			return timefmt.LogWriter(env.Stdout, loc)
		},
		Started: func(r *connecthub.Run) {
			if r.Node != "" {
				fmt.Fprintf(env.Stderr, "run %s started on node %s (attempt %d/%d)\n", r.ID, r.Node, r.Attempt, r.MaxAttempts)
			}
		},
	})
	if err != nil {
		return err
	}
	printOutcome(env, final, loc)
	if final.Status != connecthub.StatusSuccess {
		// The outcome above already says it all; only the exit code is left.
		return &exitError{code: 1, err: fmt.Errorf("run %s ended %s", id, final.Status), silent: true}
	}
	return nil
}

// printOutcome writes the end of a followed run: one line with the status,
// then its message and error when it has them.
func printOutcome(env *Env, r *connecthub.Run, loc *time.Location) {
	line := fmt.Sprintf("run %s ended %s", r.ID, r.Status)
	if r.Duration != nil {
		line += " after " + fmtDuration(r.Duration)
	}
	if r.FinishedAt != nil {
		line += " at " + timefmt.Human(*r.FinishedAt, loc)
	}
	fmt.Fprintln(env.Stderr, line)
	if r.Message != "" {
		fmt.Fprintf(env.Stderr, "message: %s\n", r.Message)
	}
	if r.Error != "" {
		fmt.Fprintf(env.Stderr, "error: %s\n", r.Error)
	}
}

// zones finds the timezone of jobs, in which their runs' times show, asking
// the server at most once per job. A job that is gone falls back to the
// default timezone (CONNECTHUB_TIMEZONE, else the server's default).
type zones struct {
	c     *client.Client
	def   *time.Location
	cache map[string]*time.Location
}

func newZones(env *Env, c *client.Client) *zones {
	return &zones{c: c, def: defaultLocation(env), cache: map[string]*time.Location{}}
}

func (z *zones) of(ctx context.Context, jobID string) *time.Location {
	if loc, ok := z.cache[jobID]; ok {
		return loc
	}
	loc := z.def
	if j, err := z.c.GetJob(ctx, jobID); err == nil {
		loc = timefmt.Location(j.Timezone, z.def)
	}
	z.cache[jobID] = loc
	return loc
}

// defaultTimezone is the timezone of jobs that do not name one, as serve
// reads it.
func defaultTimezone(env *Env) string {
	return cmp.Or(env.Getenv("CONNECTHUB_TIMEZONE"), config.DefaultTimezone)
}

func defaultLocation(env *Env) *time.Location {
	return timefmt.Location(defaultTimezone(env), time.UTC)
}

// fmtTime shows an optional time in the timezone tz (the default one when
// tz is empty), "-" when there is none.
func fmtTime(env *Env, t *time.Time, tz string) string {
	return dash(timefmt.Ptr(t, timefmt.Location(tz, defaultLocation(env))))
}
