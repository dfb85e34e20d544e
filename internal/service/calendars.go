package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
	"github.com/connecthub/connecthub/cron"
)

// WarnCalendarYears: the job's calendar has no days for a year the job
// will fire in, so that year's holidays would be taken for working days.
const WarnCalendarYears = "calendar_year_missing"

// CalendarList returns every calendar, by name.
func (s *Service) CalendarList(ctx context.Context) ([]*connecthub.Calendar, error) {
	return s.st.CalendarList(ctx)
}

// CalendarGet returns one calendar.
func (s *Service) CalendarGet(ctx context.Context, name string) (*connecthub.Calendar, error) {
	return s.st.CalendarGet(ctx, name)
}

// CalendarPut stores a calendar (create false: create or replace; create
// true: KindConflict when one has the name) and re-plans the jobs that
// name it, so their next_run_at follows the new days at once. It returns
// the stored calendar and how many jobs it re-planned. The scheduler
// checks each slot against the calendar it reads when firing, so a crash
// between the two steps costs only a stale next_run_at display, never a
// slot on a new holiday.
func (s *Service) CalendarPut(ctx context.Context, c *connecthub.Calendar, create bool) (*connecthub.Calendar, int, error) {
	if create {
		_, err := s.st.CalendarGet(ctx, c.Name)
		if err == nil {
			return nil, 0, &connecthub.Error{Kind: connecthub.KindConflict, Code: "calendar_exists", Args: []string{c.Name},
				Message: fmt.Sprintf("calendar %s already exists; PUT /api/v1/calendars/%s replaces it", c.Name, c.Name)}
		}
		if !isNotFound(err) {
			return nil, 0, err
		}
	}
	saved, err := s.st.CalendarPut(s.Audited(ctx, "calendar.put", "calendar:"+c.Name), c, s.now())
	if err != nil {
		return nil, 0, err
	}
	n, err := s.replanCalendarJobs(ctx, saved)
	return saved, n, err
}

// CalendarDelete deletes a calendar no job names.
func (s *Service) CalendarDelete(ctx context.Context, name string) error {
	return s.st.CalendarDelete(s.Audited(ctx, "calendar.delete", "calendar:"+name), name)
}

// EnsureBuiltinCalendars stores the built-in calendars that are missing
// and adds the years a stored one lacks (never overwriting a year), then
// re-plans the jobs of those it changed. serve calls it at start.
func (s *Service) EnsureBuiltinCalendars(ctx context.Context) ([]string, error) {
	builtin, err := calendar.Builtin()
	if err != nil {
		return nil, err
	}
	changed, err := s.st.CalendarEnsureBuiltin(ctx, builtin, s.now())
	if err != nil {
		return nil, err
	}
	for _, name := range changed {
		c, err := s.st.CalendarGet(ctx, name)
		if err != nil {
			return changed, err
		}
		if _, err := s.replanCalendarJobs(ctx, c); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// replanCalendarJobs recomputes next_run_at of every enabled cron job that
// names c, each in its own update (read-modify-write, so a concurrent
// edit of the job is not lost). Jobs are few enough to page through.
func (s *Service) replanCalendarJobs(ctx context.Context, c *connecthub.Calendar) (int, error) {
	n := 0
	now := s.now()
	cursor := ""
	for {
		page, next, err := s.st.JobList(ctx, connecthub.JobFilter{Limit: 500, Cursor: cursor})
		if err != nil {
			return n, err
		}
		for _, j := range page {
			if j.Calendar != c.Name || !j.Enabled || j.CronExpr == "" {
				continue
			}
			_, err := s.st.JobUpdate(ctx, j.ID, func(j *connecthub.Job) error {
				if j.Calendar != c.Name {
					return nil
				}
				return s.planIn(j, &c.Calendar, now)
			})
			if err != nil && !isNotFound(err) {
				return n, fmt.Errorf("re-plan job %s for calendar %s: %w", j.ID, c.Name, err)
			}
			n++
		}
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}

// jobCalendar returns the calendar a job names (nil for none); a name no
// calendar has is a 400 on the calendar field.
func (s *Service) jobCalendar(ctx context.Context, j *connecthub.Job) (*calendar.Calendar, error) {
	if j.Calendar == "" {
		return nil, nil
	}
	c, err := s.st.CalendarGet(ctx, j.Calendar)
	if isNotFound(err) {
		e := connecthub.FieldError("calendar", "unknown_calendar", "unknown calendar %q (see GET /api/v1/calendars)", j.Calendar)
		e.Args = []string{j.Calendar}
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	return &c.Calendar, nil
}

// calendarWarnings says which years around now the job's calendar lacks.
func calendarWarnings(j *connecthub.Job, cal *calendar.Calendar, now time.Time) []Warning {
	if cal == nil || !j.Enabled || j.CronExpr == "" {
		return nil
	}
	missing := cal.MissingYears(now.In(j.Location()))
	if len(missing) == 0 {
		return nil
	}
	years := make([]string, len(missing))
	for i, y := range missing {
		years[i] = fmt.Sprint(y)
	}
	return []Warning{{Code: WarnCalendarYears, Field: "calendar", Message: fmt.Sprintf(
		"calendar %s has no days for %s: its holidays would be treated as working days; add them (PUT /api/v1/calendars/%s)",
		j.Calendar, strings.Join(years, ", "), j.Calendar)}}
}

// JobWarnings returns what a job's page should warn about today: a
// calendar lacking this (or, in December, next) year.
func (s *Service) JobWarnings(ctx context.Context, j *connecthub.Job) ([]Warning, error) {
	if j.Calendar == "" {
		return nil, nil
	}
	c, err := s.st.CalendarGet(ctx, j.Calendar)
	if isNotFound(err) {
		return []Warning{{Code: "unknown_calendar", Field: "calendar", Message: fmt.Sprintf(
			"calendar %s does not exist: the job fires none of its slots until it names one that does", j.Calendar)}}, nil
	}
	if err != nil {
		return nil, err
	}
	return calendarWarnings(j, &c.Calendar, s.now()), nil
}

// CalendarStatsWarnings lists, for /stats, each calendar that enabled jobs
// use and that lacks a year they need (see MissingYears). It reads the
// calendars in use through an index, never the jobs one by one.
func (s *Service) CalendarStatsWarnings(ctx context.Context) ([]string, error) {
	names, err := s.st.CalendarsInUse(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	now := s.now()
	for _, name := range names {
		c, err := s.st.CalendarGet(ctx, name)
		if isNotFound(err) {
			out = append(out, fmt.Sprintf("jobs use calendar %s, which does not exist: they fire nothing", name))
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, y := range c.MissingYears(now) {
			out = append(out, fmt.Sprintf("calendar %s has no days for %d and jobs use it", c.Name, y))
		}
	}
	return out, nil
}

// CronPreviewParams asks for the next fire times of an expression.
type CronPreviewParams struct {
	Expr, TZ string
	N        int
	After    time.Time // zero: now
	Calendar string    // "" for none
	Mode     string    // calendar mode; "" means workdays
}

// CronPreview is CronNext through a calendar: the next N times the
// calendar lets through, and the slots it skipped on the way (at most
// MaxCronPreview of them) with the reason.
func (s *Service) CronPreview(ctx context.Context, p CronPreviewParams) ([]time.Time, []calendar.Skipped, error) {
	if p.Calendar == "" {
		if strings.TrimSpace(p.Mode) != "" {
			return nil, nil, connecthub.FieldError("calendar_mode", "", "calendar_mode needs a calendar")
		}
		times, err := s.CronNext(p.Expr, p.TZ, p.N, p.After)
		return times, nil, err
	}
	mode, err := calendar.ParseMode(p.Mode)
	if err != nil {
		return nil, nil, connecthub.FieldError("calendar_mode", "", "%s", err.Error())
	}
	// CronNext checks expr, tz and n; its one time is discarded.
	if _, err := s.CronNext(p.Expr, p.TZ, max(p.N, 1), p.After); err != nil {
		return nil, nil, err
	}
	if p.N <= 0 || p.N > MaxCronPreview {
		return nil, nil, connecthub.FieldError("n", "", "n must be between 1 and %d", MaxCronPreview)
	}
	c, err := s.st.CalendarGet(ctx, p.Calendar)
	if isNotFound(err) {
		e := connecthub.FieldError("calendar", "unknown_calendar", "unknown calendar %q", p.Calendar)
		e.Args = []string{p.Calendar}
		return nil, nil, e
	}
	if err != nil {
		return nil, nil, err
	}
	sched, _ := cron.Parse(p.Expr)
	tz := p.TZ
	if tz == "" {
		tz = s.defaults.Timezone
	}
	loc, _ := time.LoadLocation(tz)
	after := p.After
	if after.IsZero() {
		after = s.now()
	}
	step := func(t time.Time) time.Time { return sched.Next(t, loc) }
	var times []time.Time
	skipped := []calendar.Skipped{}
	for len(times) < p.N {
		t, sk := calendar.Next(step, &c.Calendar, mode, after, MaxCronPreview-len(skipped))
		skipped = append(skipped, sk...)
		if t.IsZero() {
			break
		}
		times = append(times, t.In(loc))
		after = t
	}
	return times, skipped, nil
}

func isNotFound(err error) bool {
	var e *connecthub.Error
	return errors.As(err, &e) && e.Kind == connecthub.KindNotFound
}
