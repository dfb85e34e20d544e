// Package calendar decides which days a job may fire on: named sets of
// dates, holidays and make-up working days, applied to the slots of a cron
// schedule in the job's time zone.
//
// A calendar lists days, each a holiday or a workday. A workday entry is a
// make-up working day (调休上班): a Saturday or Sunday that is worked, as
// mainland China's State Council arranges around its statutory holidays.
// A job with a calendar fires only on the days its mode lets through:
//
//   - ModeWorkdays: Monday to Friday, minus the holidays, plus the
//     make-up workdays;
//   - ModeSkipHolidays: every day the cron expression names, minus the
//     holidays.
//
// The package is pure: no storage, no clock. The built-in calendars (cn)
// are embedded data files that cite the notices they come from.
package calendar

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind is what a listed day is.
type Kind string

// The kinds of day a calendar lists.
const (
	// KindHoliday is a day off: no slot fires on it in either mode.
	KindHoliday Kind = "holiday"
	// KindWorkday is a make-up working day: in ModeWorkdays its slots fire
	// even when it falls on a weekend.
	KindWorkday Kind = "workday"
)

// Mode is how a job applies its calendar.
type Mode string

// The calendar modes of a job.
const (
	// ModeWorkdays fires only on working days: Monday to Friday minus the
	// calendar's holidays plus its make-up workdays.
	ModeWorkdays Mode = "workdays"
	// ModeSkipHolidays fires on every day the cron expression names except
	// the calendar's holidays.
	ModeSkipHolidays Mode = "skip_holidays"
)

// ParseMode checks a mode's name; the empty string is ModeWorkdays, the
// mode a job that names a calendar most often means.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.TrimSpace(s)) {
	case "", ModeWorkdays:
		return ModeWorkdays, nil
	case ModeSkipHolidays:
		return ModeSkipHolidays, nil
	}
	return "", fmt.Errorf("calendar mode %q: use %q or %q", s, ModeWorkdays, ModeSkipHolidays)
}

// DateLayout is how a day is written: the ISO 8601 calendar date.
const DateLayout = "2006-01-02"

// Day is one listed date of a calendar.
type Day struct {
	// Date is the day, as DateLayout, in whatever time zone the job that
	// uses the calendar runs in: a holiday is a local date.
	Date string `json:"date"`
	Kind Kind   `json:"kind"`
	// Name says why, for people: "春节 / Spring Festival".
	Name string `json:"name,omitempty"`
}

// Calendar is a named set of days.
type Calendar struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Sources cites where each year's days come from (year → citation).
	Sources map[string]string `json:"sources,omitempty"`
	Days    []Day             `json:"days"`

	byDate map[string]Day
	years  map[int]bool
}

// Names of days that are not listed but are not working days either.
const weekendReason = "周末 / Weekend"

// MaxDays bounds a calendar's size: decades of holidays are a few hundred
// days, and the bound keeps a mistaken upload from becoming a burden on
// every scheduler pass.
const MaxDays = 5000

// Validate checks the calendar and builds its index: a name of letters,
// digits, '.', '_' or '-' (at most 64), days with a valid date and kind,
// each date at most once. The errors name the day.
func (c *Calendar) Validate() error {
	c.Name = strings.TrimSpace(c.Name)
	if err := CheckName(c.Name); err != nil {
		return err
	}
	if len(c.Days) > MaxDays {
		return fmt.Errorf("days: %d days; at most %d", len(c.Days), MaxDays)
	}
	c.byDate = make(map[string]Day, len(c.Days))
	c.years = map[int]bool{}
	for i := range c.Days {
		d := &c.Days[i]
		d.Date = strings.TrimSpace(d.Date)
		d.Name = strings.TrimSpace(d.Name)
		t, err := time.Parse(DateLayout, d.Date)
		if err != nil {
			return fmt.Errorf("days[%d].date: %q is not a date like 2026-02-16", i, d.Date)
		}
		switch d.Kind {
		case KindHoliday, KindWorkday:
		default:
			return fmt.Errorf("days[%d].kind: %q; use %q or %q", i, d.Kind, KindHoliday, KindWorkday)
		}
		if len(d.Name) > 200 {
			return fmt.Errorf("days[%d].name: longer than 200 characters", i)
		}
		if prev, dup := c.byDate[d.Date]; dup {
			return fmt.Errorf("days[%d].date: %s is listed twice (%s and %s)", i, d.Date, prev.Kind, d.Kind)
		}
		c.byDate[d.Date] = *d
		c.years[t.Year()] = true
	}
	sort.Slice(c.Days, func(i, j int) bool { return c.Days[i].Date < c.Days[j].Date })
	return nil
}

// CheckName checks a calendar's name.
func CheckName(name string) error {
	if name == "" {
		return errors.New("name: required")
	}
	if len(name) > 64 {
		return errors.New("name: longer than 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("name: %q has %q; use letters, digits, '.', '_' or '-'", name, r)
		}
	}
	return nil
}

// index builds the lookup tables of a calendar made without Validate.
func (c *Calendar) index() {
	if c.byDate != nil {
		return
	}
	c.byDate = make(map[string]Day, len(c.Days))
	c.years = map[int]bool{}
	for _, d := range c.Days {
		c.byDate[d.Date] = d
		if t, err := time.Parse(DateLayout, d.Date); err == nil {
			c.years[t.Year()] = true
		}
	}
}

// Covers reports whether the calendar lists any day of year. A year it
// does not cover has no holidays in it as far as the calendar knows, which
// for a holiday calendar means the data is missing: the job shows a
// warning rather than silently firing on next year's holidays.
func (c *Calendar) Covers(year int) bool {
	c.index()
	return c.years[year]
}

// Years returns the years the calendar covers, ascending.
func (c *Calendar) Years() []int {
	c.index()
	out := make([]int, 0, len(c.years))
	for y := range c.years {
		out = append(out, y)
	}
	sort.Ints(out)
	return out
}

// Allows reports whether a slot at t (read in t's own location, which is
// the job's time zone) may fire under mode, and when not, why: the
// holiday's name, or the weekend.
func (c *Calendar) Allows(t time.Time, mode Mode) (ok bool, reason string) {
	c.index()
	d, listed := c.byDate[t.Format(DateLayout)]
	if listed && d.Kind == KindHoliday {
		return false, nameOr(d, "holiday")
	}
	if mode == ModeSkipHolidays {
		return true, ""
	}
	if listed && d.Kind == KindWorkday {
		return true, ""
	}
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false, weekendReason
	}
	return true, ""
}

func nameOr(d Day, fallback string) string {
	if d.Name != "" {
		return d.Name
	}
	return fallback
}

// Skipped is a slot the calendar did not let through.
type Skipped struct {
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
}

// MaxSkips bounds how many slots Next passes over looking for one the
// calendar allows. A minutely job over a nine-day holiday skips about
// 13,000; the bound is far above any real holiday and keeps a calendar
// that allows nothing (every day a holiday) from looping for ever.
const MaxSkips = 100_000

// Next returns the first slot after `after` that the calendar allows,
// with the slots it skipped on the way (at most keepSkipped of them are
// returned, the earliest first; all are counted). next is the schedule's
// own next-slot function; a zero time from it ends the search. A nil
// calendar allows every slot.
func Next(next func(time.Time) time.Time, cal *Calendar, mode Mode, after time.Time, keepSkipped int) (time.Time, []Skipped) {
	var skipped []Skipped
	t := after
	for i := 0; i <= MaxSkips; i++ {
		t = next(t)
		if t.IsZero() {
			return time.Time{}, skipped
		}
		if cal == nil {
			return t, skipped
		}
		ok, reason := cal.Allows(t, mode)
		if ok {
			return t, skipped
		}
		if len(skipped) < keepSkipped {
			skipped = append(skipped, Skipped{Time: t, Reason: reason})
		}
	}
	return time.Time{}, skipped
}

// MissingYears returns the years around now that a job using the calendar
// needs and the calendar does not cover: now's year, and from December 1st
// the next one too, so that an admin hears about next year's holidays
// (which the State Council publishes in November) before the first of
// them is treated as a working day.
func (c *Calendar) MissingYears(now time.Time) []int {
	years := []int{now.Year()}
	if now.Month() == time.December {
		years = append(years, now.Year()+1)
	}
	var out []int
	for _, y := range years {
		if !c.Covers(y) {
			out = append(out, y)
		}
	}
	return out
}
