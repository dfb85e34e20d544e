package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
)

// calendarState is a job's calendar as a pass knows it: the calendar, or
// that the job names one the store does not have.
type calendarState struct {
	name string
	cal  *calendar.Calendar // nil when missing
}

// passCalendars reads each calendar a pass needs once, however many of
// its due jobs name it; the next pass reads them again, so an edited
// calendar applies from the next pass on.
type passCalendars map[string]*calendarState

// get returns the state of the calendar named name, nil for "" (no
// calendar). A calendar that does not exist is a state, not an error; a
// store that cannot answer is an error, which ends the pass.
func (p passCalendars) get(ctx context.Context, st Store, name string) (*calendarState, error) {
	if name == "" {
		return nil, nil
	}
	if c, ok := p[name]; ok {
		return c, nil
	}
	c, err := st.CalendarGet(ctx, name)
	var e *connecthub.Error
	switch {
	case errors.As(err, &e) && e.Kind == connecthub.KindNotFound:
		p[name] = &calendarState{name: name}
	case err != nil:
		return nil, fmt.Errorf("read calendar %s: %w", name, err)
	default:
		p[name] = &calendarState{name: name, cal: &c.Calendar}
	}
	return p[name], nil
}

// calendarSlots narrows a job's schedule to the slots its calendar lets
// through. It returns the narrowed next-slot function and the pending slot
// to plan from: prev itself when the calendar allows it, else the first
// allowed slot after it (the calendar may have changed since prev was
// planned). stop says there is nothing to fire now; the returned slot is
// then the job's next pending slot (zero: none).
//
// A job whose calendar does not exist (deleted under it, which the API
// refuses, or a manual edit of the database) fires nothing: firing a
// payroll job on a holiday is the mistake the calendar exists to prevent.
// Its schedule still moves on, so it is not due on every pass, and each
// skipped slot is logged as an error.
func (s *Scheduler) calendarSlots(j *connecthub.Job, st *calendarState, loc *time.Location, next func(time.Time) time.Time, prev, now time.Time) (func(time.Time) time.Time, time.Time, bool) {
	if st.cal == nil {
		s.log.Error("job names a calendar that does not exist; not firing its slot", "job", j.ID, "calendar", st.name, "slot", prev)
		return next, next(now), true
	}
	mode, err := calendar.ParseMode(j.CalendarMode)
	if err != nil {
		mode = calendar.ModeWorkdays // Validate prevents it; the safer reading
	}
	raw := next
	narrowed := func(t time.Time) time.Time {
		n, _ := calendar.Next(func(u time.Time) time.Time { return raw(u).In(loc) }, st.cal, mode, t, 0)
		return n.UTC()
	}
	if ok, _ := st.cal.Allows(prev.In(loc), mode); !ok {
		prev = narrowed(prev)
		if prev.IsZero() || prev.After(now) {
			return narrowed, prev, true
		}
	}
	return narrowed, prev, false
}
