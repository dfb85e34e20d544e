package httpapi

import (
	"net/http"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
)

// calendarRoutes registers the calendar routes: anyone signed in reads
// them, admins create, replace and delete them.
func (a *API) calendarRoutes(api apiFunc) {
	api("GET /api/v1/calendars", connecthub.RoleViewer, a.calendarList)
	api("POST /api/v1/calendars", connecthub.RoleAdmin, a.calendarCreate)
	api("GET /api/v1/calendars/{name}", connecthub.RoleViewer, a.calendarGet)
	api("PUT /api/v1/calendars/{name}", connecthub.RoleAdmin, a.calendarPut)
	api("DELETE /api/v1/calendars/{name}", connecthub.RoleAdmin, a.calendarDelete)
}

// calendarView is a calendar as the API shows it: with the years it
// covers, so a client sees at a glance which year is missing.
type calendarView struct {
	*connecthub.Calendar
	Years []int `json:"years"`
}

func viewCalendar(c *connecthub.Calendar) calendarView {
	years := c.Years()
	if years == nil {
		years = []int{}
	}
	return calendarView{Calendar: c, Years: years}
}

// calendarInput is the body of a calendar create or replace. Unknown
// fields are refused, so that a typo ("holidays" for "days") is not a
// calendar that silently has no days.
type calendarInput struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Sources     map[string]string `json:"sources"`
	Days        []calendar.Day    `json:"days"`
}

func decodeCalendar(r *http.Request, pathName string) (*connecthub.Calendar, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var in calendarInput
	if err := unmarshalBody(body, &in, true); err != nil {
		return nil, err
	}
	if pathName != "" {
		if in.Name != "" && in.Name != pathName {
			return nil, connecthub.FieldError("name", "", "name %q does not match the calendar in the path, %q", in.Name, pathName)
		}
		in.Name = pathName
	}
	return &connecthub.Calendar{Calendar: calendar.Calendar{
		Name: in.Name, Description: in.Description, Sources: in.Sources, Days: in.Days,
	}}, nil
}

func (a *API) calendarList(w http.ResponseWriter, r *http.Request) error {
	cals, err := a.svc.CalendarList(r.Context())
	if err != nil {
		return err
	}
	out := make([]calendarView, len(cals))
	for i, c := range cals {
		out[i] = viewCalendar(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"calendars": out})
	return nil
}

func (a *API) calendarGet(w http.ResponseWriter, r *http.Request) error {
	c, err := a.svc.CalendarGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewCalendar(c))
	return nil
}

func (a *API) calendarCreate(w http.ResponseWriter, r *http.Request) error {
	return a.calendarSave(w, r, "", true)
}

func (a *API) calendarPut(w http.ResponseWriter, r *http.Request) error {
	return a.calendarSave(w, r, r.PathValue("name"), false)
}

func (a *API) calendarSave(w http.ResponseWriter, r *http.Request, pathName string, create bool) error {
	c, err := decodeCalendar(r, pathName)
	if err != nil {
		return err
	}
	saved, replanned, err := a.svc.CalendarPut(r.Context(), c, create)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if create {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"calendar": viewCalendar(saved), "jobs_replanned": replanned})
	return nil
}

func (a *API) calendarDelete(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.CalendarDelete(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
