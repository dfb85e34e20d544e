package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/client"
	"github.com/connecthub/connecthub/internal/config"
	"github.com/connecthub/connecthub/internal/timefmt"
)

// startPoll is how often a followed run that is still queued is looked at,
// to say on which node it started as soon as it did.
const startPoll = 200 * time.Millisecond

// followRun tells a person what a run does while it does it: on stderr
// when and where it started, on stdout its log as it comes (times in the
// job's timezone), and at the end on stderr its status, message and error,
// which is what one needs to read a failure. It exits non-zero unless the
// run succeeded, so scripts can `connecthub job run X -f && next-step`.
func followRun(cmd *cobra.Command, env *Env, c *client.Client, id string) error {
	ctx := cmd.Context()
	r, err := c.GetRun(ctx, id)
	if err != nil {
		return err
	}
	zones := newZones(env, c)
	loc := zones.of(ctx, r.JobID)
	if r, err = waitStarted(ctx, env, c, r); err != nil {
		return err
	}
	if r.Status != connecthub.StatusQueued && r.Node != "" {
		fmt.Fprintf(env.Stderr, "run %s started on node %s (attempt %d/%d)\n", r.ID, r.Node, r.Attempt, r.MaxAttempts)
	}
	lw := timefmt.LogWriter(env.Stdout, loc)
	status, err := c.FollowRunLog(ctx, id, lw)
	if cerr := lw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if status == "DELETED" {
		return fmt.Errorf("run %s was deleted while followed", id)
	}
	final, err := c.GetRun(ctx, id)
	if err != nil {
		return err
	}
	final.FillDuration()
	printOutcome(env, final, loc)
	if final.Status != connecthub.StatusSuccess {
		// The outcome above already says it all; only the exit code is left.
		return &exitError{code: 1, err: fmt.Errorf("run %s ended %s", id, final.Status), silent: true}
	}
	return nil
}

// waitStarted says that a queued run waits for a worker and returns it once
// a worker took it (or it ended without one, canceled or skipped).
func waitStarted(ctx context.Context, env *Env, c *client.Client, r *connecthub.Run) (*connecthub.Run, error) {
	if r.Status == connecthub.StatusQueued {
		fmt.Fprintf(env.Stderr, "run %s of job %s queued (%s), waiting for a worker…\n", r.ID, r.JobID, r.Trigger)
	}
	return c.Runs.WaitStarted(ctx, r, startPoll)
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
	return firstNonEmpty(env.Getenv("CONNECTHUB_TIMEZONE"), config.DefaultTimezone)
}

func defaultLocation(env *Env) *time.Location {
	return timefmt.Location(defaultTimezone(env), time.UTC)
}

// fmtTime shows an optional time in the timezone tz (the default one when
// tz is empty), "-" when there is none.
func fmtTime(env *Env, t *time.Time, tz string) string {
	return dash(timefmt.Ptr(t, timefmt.Location(tz, defaultLocation(env))))
}
