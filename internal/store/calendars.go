package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
)

// CalendarStore keeps the working-day calendars jobs name. A calendar is
// small (at most calendar.MaxDays days), so a driver stores its days as one
// JSON document beside its name.
type CalendarStore interface {
	// CalendarPut creates the calendar or replaces the one with its name,
	// after CheckCalendar. A replaced calendar keeps its CreatedAt and its
	// Builtin mark; UpdatedAt is now. It returns what is stored.
	CalendarPut(ctx context.Context, c *connecthub.Calendar, now time.Time) (*connecthub.Calendar, error)
	// CalendarGet returns one calendar; KindNotFound if none has the name.
	CalendarGet(ctx context.Context, name string) (*connecthub.Calendar, error)
	// CalendarList returns every calendar, by name; empty, never nil.
	CalendarList(ctx context.Context) ([]*connecthub.Calendar, error)
	// CalendarDelete deletes a calendar no job names: KindNotFound if none
	// has the name, KindConflict (ErrCalendarInUse, naming the jobs) if a
	// job names it, in the same transaction as the delete.
	CalendarDelete(ctx context.Context, name string) error
	// CalendarsInUse returns the names of the calendars that enabled jobs
	// with a cron expression name, sorted; empty, never nil.
	CalendarsInUse(ctx context.Context) ([]string, error)
	// CalendarEnsureBuiltin stores each built-in calendar that is missing
	// (marked Builtin), and adds to a stored one the days of every year it
	// does not cover yet (MergeBuiltin), in one transaction. It never
	// changes a year the stored calendar has, so an admin's edits stay. It
	// returns the names it created or extended.
	CalendarEnsureBuiltin(ctx context.Context, builtin []*calendar.Calendar, now time.Time) ([]string, error)
}

// CheckCalendar validates a calendar for CalendarPut (names, dates, kinds,
// duplicates: see calendar.Calendar.Validate) and reports the problem as a
// field error.
func CheckCalendar(c *connecthub.Calendar) error {
	if c == nil {
		return connecthub.Errorf(connecthub.KindInvalid, "calendar is required")
	}
	if err := c.Validate(); err != nil {
		field, _, _ := strings.Cut(err.Error(), ":")
		return connecthub.FieldError(field, "", "%s", err.Error())
	}
	if len(c.Description) > 1000 {
		return connecthub.FieldError("description", "", "description must be at most 1000 characters")
	}
	return nil
}

// calendarData is the JSON document a driver stores per calendar.
type calendarData struct {
	Sources map[string]string `json:"sources,omitempty"`
	Days    []calendar.Day    `json:"days"`
}

// EncodeCalendarData returns the document a driver stores for c's days
// and sources.
func EncodeCalendarData(c *connecthub.Calendar) (string, error) {
	days := c.Days
	if days == nil {
		days = []calendar.Day{}
	}
	b, err := json.Marshal(calendarData{Sources: c.Sources, Days: days})
	if err != nil {
		return "", fmt.Errorf("encode calendar %s: %w", c.Name, err)
	}
	return string(b), nil
}

// DecodeCalendarData fills c's days and sources from a stored document.
func DecodeCalendarData(c *connecthub.Calendar, data string) error {
	var d calendarData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return fmt.Errorf("decode calendar %s: %w", c.Name, err)
	}
	c.Sources, c.Days = d.Sources, d.Days
	if c.Days == nil {
		c.Days = []calendar.Day{}
	}
	return nil
}

// MergeBuiltin adds to stored the days (and source citations) of every
// year that builtin covers and stored does not, and reports whether it
// changed anything. Years stored already covers are left exactly as they
// are: an admin may have corrected them.
func MergeBuiltin(stored *connecthub.Calendar, builtin *calendar.Calendar) bool {
	changed := false
	for _, d := range builtin.Days {
		t, err := time.Parse(calendar.DateLayout, d.Date)
		if err != nil || stored.Covers(t.Year()) {
			continue
		}
		stored.Days = append(stored.Days, d)
		changed = true
	}
	if !changed {
		return false
	}
	for year, src := range builtin.Sources {
		if stored.Sources == nil {
			stored.Sources = map[string]string{}
		}
		if _, ok := stored.Sources[year]; !ok {
			stored.Sources[year] = src
		}
	}
	// Validate re-sorts the days and rebuilds the year index that Covers
	// read before the merge.
	_ = stored.Validate()
	return true
}

// EnsureBuiltin is CalendarEnsureBuiltin's rule, written once: for each
// built-in calendar, read returns the stored one (KindNotFound when there
// is none; locked for the transaction where the dialect can); a missing one is
// stored whole (NewBuiltinCalendar), a stored one gains only the years it
// does not cover (MergeBuiltin), and put writes what changed. It returns
// the names of the calendars it wrote, never nil. The driver runs it in
// one write transaction.
func EnsureBuiltin(builtin []*calendar.Calendar, now time.Time,
	read func(name string) (*connecthub.Calendar, error), put func(*connecthub.Calendar) error) ([]string, error) {
	changed := []string{}
	for _, b := range builtin {
		stored, err := read(b.Name)
		switch {
		case connecthub.IsKind(err, connecthub.KindNotFound):
			stored = NewBuiltinCalendar(b, now)
		case err != nil:
			return nil, err
		case !MergeBuiltin(stored, b):
			continue
		}
		if err := put(stored); err != nil {
			return nil, err
		}
		changed = append(changed, b.Name)
	}
	return changed, nil
}

// NewBuiltinCalendar is the stored form of a built-in calendar that is
// not in the database yet.
func NewBuiltinCalendar(b *calendar.Calendar, now time.Time) *connecthub.Calendar {
	c := &connecthub.Calendar{Calendar: *b, Builtin: true, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	c.Days = append([]calendar.Day(nil), b.Days...)
	_ = c.Validate()
	return c
}

// ErrCalendarInUse is CalendarDelete's refusal while jobs name the
// calendar; jobs holds some of them (a driver reads at most ten).
func ErrCalendarInUse(name string, jobs []string) error {
	return &connecthub.Error{Kind: connecthub.KindConflict, Code: "calendar_in_use", Args: []string{name, strings.Join(jobs, ", ")},
		Message: fmt.Sprintf("calendar %s is used by job(s) %s; change them first", name, strings.Join(jobs, ", "))}
}

// ErrNoCalendar is the KindNotFound of a calendar name.
func ErrNoCalendar(name string) error {
	return &connecthub.Error{Kind: connecthub.KindNotFound, Code: "calendar_not_found", Args: []string{name}, Message: fmt.Sprintf("calendar %s not found", name)}
}
