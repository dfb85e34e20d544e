package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/connecthub/connecthub"
)

// Calendar is a calendar as the API shows it, with the years it covers.
type Calendar struct {
	connecthub.Calendar
	Years []int `json:"years"`
}

// ListCalendars lists every calendar, by name.
func (c *Client) ListCalendars(ctx context.Context) ([]Calendar, error) {
	var out struct {
		Calendars []Calendar `json:"calendars"`
	}
	return out.Calendars, c.do(ctx, http.MethodGet, "/api/v1/calendars", nil, nil, &out)
}

// GetCalendar returns one calendar.
func (c *Client) GetCalendar(ctx context.Context, name string) (*Calendar, error) {
	var out Calendar
	return &out, c.do(ctx, http.MethodGet, "/api/v1/calendars/"+url.PathEscape(name), nil, nil, &out)
}

// SavedCalendar is the answer to a calendar save: the calendar and how
// many jobs had their next fire time re-planned.
type SavedCalendar struct {
	Calendar      Calendar `json:"calendar"`
	JobsReplanned int      `json:"jobs_replanned"`
}

// PutCalendar creates or replaces the calendar named name with body (a
// JSON object with description, sources and days).
func (c *Client) PutCalendar(ctx context.Context, name string, body []byte) (*SavedCalendar, error) {
	var out SavedCalendar
	return &out, c.do(ctx, http.MethodPut, "/api/v1/calendars/"+url.PathEscape(name), nil, json.RawMessage(body), &out)
}

// DeleteCalendar deletes a calendar that no job names.
func (c *Client) DeleteCalendar(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/calendars/"+url.PathEscape(name), nil, nil, nil)
}

// CronPreviewRequest asks the server for the next fire times of an
// expression through a calendar.
type CronPreviewRequest struct {
	Expr, TZ       string
	N              int
	After          time.Time // zero: now
	Calendar, Mode string
}

// CronPreview is the server's answer: the times the calendar lets through
// and the slots it skipped on the way, with the reason.
type CronPreview struct {
	Times   []string `json:"times"`
	Skipped []struct {
		Time   string `json:"time"`
		Reason string `json:"reason"`
	} `json:"skipped"`
}

// CronPreview previews fire times on the server, which knows the
// calendars.
func (c *Client) CronPreview(ctx context.Context, req CronPreviewRequest) (*CronPreview, error) {
	q := url.Values{"expr": {req.Expr}, "n": {strconv.Itoa(req.N)}}
	for k, v := range map[string]string{"tz": req.TZ, "calendar": req.Calendar, "calendar_mode": req.Mode} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !req.After.IsZero() {
		q.Set("after", req.After.Format(time.RFC3339Nano))
	}
	var out CronPreview
	return &out, c.do(ctx, http.MethodGet, "/api/v1/cron/next", q, nil, &out)
}
