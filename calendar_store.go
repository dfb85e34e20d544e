package connecthub

import (
	"time"

	"github.com/connecthub/connecthub/calendar"
)

// Calendar is a stored working-day calendar: the days of
// [calendar.Calendar] (holidays and make-up workdays), with what the store
// adds. Jobs name it in their calendar field; the scheduler then fires
// only the slots it lets through.
type Calendar struct {
	calendar.Calendar
	// Builtin marks a calendar that ships with ConnectHub (cn). Admins
	// may edit it; an upgrade adds the years it did not cover and never
	// overwrites a year it has.
	Builtin   bool      `json:"builtin"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}
