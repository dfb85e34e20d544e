package adminui

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
)

// calendarRow is one calendar in the list.
type calendarRow struct {
	*connecthub.Calendar
	Years              []int
	Missing            []int // years around now it lacks (see calendar.MissingYears)
	Holidays, Workdays int
}

// calendarsView is the calendars page.
type calendarsView struct {
	Calendars []calendarRow
	InUse     map[string]bool
}

func (u *UI) calendarList(w http.ResponseWriter, r *http.Request) {
	cals, err := u.svc.CalendarList(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := calendarsView{InUse: map[string]bool{}}
	for _, c := range cals {
		row := calendarRow{Calendar: c, Years: c.Years(), Missing: c.MissingYears(u.now())}
		for _, d := range c.Days {
			if d.Kind == calendar.KindHoliday {
				row.Holidays++
			} else {
				row.Workdays++
			}
		}
		v.Calendars = append(v.Calendars, row)
	}
	u.render(w, r, http.StatusOK, "calendars", u.page(w, r, "calendars", "calendars.title", v))
}

// calendarForm is the calendar page: the calendar's days, and the form
// that edits them as text, one day per line.
type calendarForm struct {
	IsNew                       bool
	Cal                         *connecthub.Calendar
	Name, Description, DaysText string
	Years, Missing              []int
	Error                       string
	CSRF                        string
}

// calendarURL is a calendar's page.
func calendarURL(name string) string { return Prefix + "/calendars/" + url.PathEscape(name) }

// formatDays writes days the way the form edits them:
// "2026-02-16 holiday 春节 / Spring Festival".
func formatDays(days []calendar.Day) string {
	var b strings.Builder
	for _, d := range days {
		fmt.Fprintf(&b, "%s %s", d.Date, d.Kind)
		if d.Name != "" {
			b.WriteString(" " + d.Name)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// parseDays reads the form's text: one day per line, date, kind (holiday
// or workday) and an optional name; blank lines and lines starting with #
// are ignored. An error names the line.
func parseDays(text string) ([]calendar.Day, error) {
	days := []calendar.Day{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: %q: want a date, holiday or workday, and a name", n, line)
		}
		if _, err := time.Parse(calendar.DateLayout, fields[0]); err != nil {
			return nil, fmt.Errorf("line %d: %q is not a date like 2027-01-01", n, fields[0])
		}
		kind := calendar.Kind(strings.ToLower(fields[1]))
		if kind != calendar.KindHoliday && kind != calendar.KindWorkday {
			return nil, fmt.Errorf("line %d: %q: the kind is holiday or workday", n, fields[1])
		}
		name := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, fields[0]), " "))
		name = strings.TrimSpace(name[len(fields[1]):])
		days = append(days, calendar.Day{Date: fields[0], Kind: kind, Name: name})
	}
	return days, sc.Err()
}

func (u *UI) calendarNew(w http.ResponseWriter, r *http.Request) {
	u.showCalendar(w, r, http.StatusOK, &calendarForm{IsNew: true})
}

func (u *UI) calendarShow(w http.ResponseWriter, r *http.Request) {
	c, err := u.svc.CalendarGet(r.Context(), r.PathValue("name"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.showCalendar(w, r, http.StatusOK, &calendarForm{Cal: c, Name: c.Name, Description: c.Description, DaysText: formatDays(c.Days)})
}

func (u *UI) showCalendar(w http.ResponseWriter, r *http.Request, status int, f *calendarForm) {
	f.CSRF = u.sessions.CSRFToken(sessionOf(r))
	if f.Cal != nil {
		f.Years, f.Missing = f.Cal.Years(), f.Cal.MissingYears(u.now())
	}
	title := "calendar.new.title"
	if !f.IsNew {
		title = "calendar.title"
	}
	u.render(w, r, status, "calendar", u.page(w, r, "calendars", title, f))
}

// calendarCreate and calendarSave store the form; a refused form comes
// back as it was typed, with the reason above it.
func (u *UI) calendarCreate(w http.ResponseWriter, r *http.Request) { u.saveCalendar(w, r, true) }
func (u *UI) calendarSave(w http.ResponseWriter, r *http.Request)   { u.saveCalendar(w, r, false) }

func (u *UI) saveCalendar(w http.ResponseWriter, r *http.Request, create bool) {
	f := &calendarForm{IsNew: create, Name: strings.TrimSpace(r.PostFormValue("name")),
		Description: strings.TrimSpace(r.PostFormValue("description")), DaysText: r.PostFormValue("days")}
	if !create {
		f.Name = r.PathValue("name")
		stored, err := u.svc.CalendarGet(r.Context(), f.Name)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		f.Cal = stored
	}
	days, err := parseDays(f.DaysText)
	if err == nil {
		c := &connecthub.Calendar{Calendar: calendar.Calendar{Name: f.Name, Description: f.Description, Days: days}}
		if f.Cal != nil {
			c.Sources = f.Cal.Sources
		}
		var saved *connecthub.Calendar
		if saved, _, err = u.svc.CalendarPut(r.Context(), c, create); err == nil {
			setFlash(w, r, "flash.calendar_saved", saved.Name)
			redirect(w, r, calendarURL(saved.Name))
			return
		}
		errs := fieldErrors(err) // nil: an internal error, no fault of the form
		if errs == nil {
			u.fail(w, r, err)
			return
		}
		err = errors.New(errs[0].Message)
	}
	f.Error = err.Error()
	u.showCalendar(w, r, http.StatusUnprocessableEntity, f)
}

func (u *UI) calendarDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	c, err := u.svc.CalendarGet(r.Context(), r.PathValue("name"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "calendar_delete", u.page(w, r, "calendars", "calendar.delete.title", c))
}

func (u *UI) calendarDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := u.svc.CalendarDelete(r.Context(), name); err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "flash.calendar_deleted", name)
	redirect(w, r, Prefix+"/calendars")
}
