package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
	"github.com/connecthub/connecthub/internal/store"
)

// testCalendar returns a valid calendar with a holiday and a make-up
// workday in 2031.
func testCalendar(name string) *connecthub.Calendar {
	return &connecthub.Calendar{Calendar: calendar.Calendar{
		Name: name, Description: "calendar " + name,
		Sources: map[string]string{"2031": "a notice"},
		Days: []calendar.Day{
			{Date: "2031-03-17", Kind: calendar.KindHoliday, Name: "holiday"},
			{Date: "2031-03-15", Kind: calendar.KindWorkday, Name: "make-up"},
		},
	}}
}

func putCalendar(t *testing.T, s store.Store, c *connecthub.Calendar, now time.Time) *connecthub.Calendar {
	t.Helper()
	got, err := s.CalendarPut(t.Context(), c, now)
	if err != nil {
		t.Fatalf("CalendarPut(%s): %v", c.Name, err)
	}
	return got
}

// checkCalendar compares a calendar as put with one read back: days sorted
// by date, times in UTC at microseconds.
func checkCalendar(t *testing.T, want, got *connecthub.Calendar) {
	t.Helper()
	if got.Name != want.Name || got.Description != want.Description || got.Builtin != want.Builtin {
		t.Errorf("calendar %s: got %q %q builtin=%v, want %q %q builtin=%v", want.Name,
			got.Name, got.Description, got.Builtin, want.Name, want.Description, want.Builtin)
	}
	wantDays := slices.Clone(want.Days)
	slices.SortFunc(wantDays, func(a, b calendar.Day) int { return strings.Compare(a.Date, b.Date) })
	if !slices.Equal(wantDays, got.Days) {
		t.Errorf("calendar %s days:\n got %v\nwant %v", want.Name, got.Days, wantDays)
	}
	for y, src := range want.Sources {
		if got.Sources[y] != src {
			t.Errorf("calendar %s source %s = %q, want %q", want.Name, y, got.Sources[y], src)
		}
	}
}

func exerciseCalendars(t *testing.T, newStore NewStoreFunc) {
	parallel(t, newStore, map[string]func(t *testing.T, s store.Store){
		"PutGetListRoundTrip": func(t *testing.T, s store.Store) {
			c := testCalendar("ops")
			got := putCalendar(t, s, c, t0.In(shanghai))
			checkCalendar(t, c, got)
			checkTime(t, "created_at", t0, got.CreatedAt)
			checkTime(t, "updated_at", t0, got.UpdatedAt)
			read, err := s.CalendarGet(t.Context(), "ops")
			if err != nil {
				t.Fatal(err)
			}
			checkCalendar(t, c, read)
			if !read.Covers(2031) || read.Covers(2030) {
				t.Errorf("covers %v", read.Years())
			}
			putCalendar(t, s, testCalendar("aa"), t0)
			list, err := s.CalendarList(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range list {
				names = append(names, c.Name)
			}
			checkStrings(t, "calendar names", []string{"aa", "ops"}, names)
		},
		"ListEmpty": func(t *testing.T, s store.Store) {
			list, err := s.CalendarList(t.Context())
			if err != nil || list == nil || len(list) != 0 {
				t.Fatalf("CalendarList on an empty store = %v, %v; want empty, not nil", list, err)
			}
			inUse, err := s.CalendarsInUse(t.Context())
			if err != nil || inUse == nil || len(inUse) != 0 {
				t.Fatalf("CalendarsInUse on an empty store = %v, %v; want empty, not nil", inUse, err)
			}
		},
		"ReplaceKeepsCreatedAndBuiltin": func(t *testing.T, s store.Store) {
			if _, err := s.CalendarEnsureBuiltin(t.Context(), []*calendar.Calendar{&testCalendar("cn").Calendar}, t0); err != nil {
				t.Fatal(err)
			}
			edited := testCalendar("cn")
			edited.Description = "edited"
			edited.Days = edited.Days[:1]
			got := putCalendar(t, s, edited, t0.Add(time.Hour))
			edited.Builtin = true // kept from the stored row
			checkCalendar(t, edited, got)
			checkTime(t, "created_at", t0, got.CreatedAt)
			checkTime(t, "updated_at", t0.Add(time.Hour), got.UpdatedAt)
		},
		"Invalid": func(t *testing.T, s store.Store) {
			bad := testCalendar("x")
			bad.Days = append(bad.Days, calendar.Day{Date: "2031-03-17", Kind: calendar.KindWorkday})
			for name, c := range map[string]*connecthub.Calendar{
				"duplicate date": bad,
				"bad name":       testCalendar("a b"),
				"bad kind": {Calendar: calendar.Calendar{Name: "k", Days: []calendar.Day{
					{Date: "2031-01-01", Kind: "vacation"}}}},
			} {
				if _, err := s.CalendarPut(t.Context(), c, t0); err == nil {
					t.Errorf("%s: CalendarPut accepted it", name)
				} else {
					requireKind(t, err, connecthub.KindInvalid)
				}
			}
			if _, err := s.CalendarPut(t.Context(), testCalendar("ok"), time.Time{}); err == nil {
				t.Error("CalendarPut without now succeeded")
			}
			list, _ := s.CalendarList(t.Context())
			if len(list) != 0 {
				t.Errorf("a refused put stored %d calendars", len(list))
			}
		},
		"NotFound": func(t *testing.T, s store.Store) {
			_, err := s.CalendarGet(t.Context(), "nope")
			requireKind(t, err, connecthub.KindNotFound)
			requireKind(t, s.CalendarDelete(t.Context(), "nope"), connecthub.KindNotFound)
		},
		"DeleteRefusedWhileUsed": func(t *testing.T, s store.Store) {
			putCalendar(t, s, testCalendar("payroll"), t0)
			newJob(t, s, "uses-it", func(j *connecthub.Job) { j.Calendar = "payroll" })
			newJob(t, s, "other", func(j *connecthub.Job) { j.Calendar = ""; j.CalendarMode = "" })
			newJob(t, s, "disabled", func(j *connecthub.Job) { j.Calendar = "holidays"; j.Enabled = false })
			inUse, err := s.CalendarsInUse(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "calendars in use", []string{"payroll"}, inUse)
			err = s.CalendarDelete(t.Context(), "payroll")
			requireKind(t, err, connecthub.KindConflict)
			if err == nil || !strings.Contains(err.Error(), "uses-it") || strings.Contains(err.Error(), "other") {
				t.Errorf("refusal %v does not name exactly the job that uses it", err)
			}
			if _, err := s.CalendarGet(t.Context(), "payroll"); err != nil {
				t.Fatalf("refused delete removed the calendar: %v", err)
			}
			if _, err := s.JobUpdate(t.Context(), "uses-it", func(j *connecthub.Job) error {
				j.Calendar, j.CalendarMode = "", ""
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := s.CalendarDelete(t.Context(), "payroll"); err != nil {
				t.Fatalf("delete of an unused calendar: %v", err)
			}
			_, err = s.CalendarGet(t.Context(), "payroll")
			requireKind(t, err, connecthub.KindNotFound)
		},
		"EnsureBuiltinCreatesAndExtendsButNeverOverwrites": func(t *testing.T, s store.Store) {
			v1 := testCalendar("cn").Calendar
			changed, err := s.CalendarEnsureBuiltin(t.Context(), []*calendar.Calendar{&v1}, t0)
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "created", []string{"cn"}, changed)
			got, _ := s.CalendarGet(t.Context(), "cn")
			if !got.Builtin {
				t.Error("a built-in calendar is not marked builtin")
			}
			// An admin corrects 2031: the holiday moves.
			edited := testCalendar("cn")
			edited.Days = []calendar.Day{{Date: "2031-03-18", Kind: calendar.KindHoliday, Name: "moved"}}
			putCalendar(t, s, edited, t0)
			// An upgrade ships 2031 (as before) and 2032.
			v2 := testCalendar("cn").Calendar
			v2.Days = append(v2.Days, calendar.Day{Date: "2032-01-01", Kind: calendar.KindHoliday, Name: "new year"})
			v2.Sources["2032"] = "next notice"
			changed, err = s.CalendarEnsureBuiltin(t.Context(), []*calendar.Calendar{&v2}, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			checkStrings(t, "extended", []string{"cn"}, changed)
			got, _ = s.CalendarGet(t.Context(), "cn")
			want := []calendar.Day{
				{Date: "2031-03-18", Kind: calendar.KindHoliday, Name: "moved"},
				{Date: "2032-01-01", Kind: calendar.KindHoliday, Name: "new year"},
			}
			if !slices.Equal(got.Days, want) {
				t.Errorf("after the upgrade: %v, want the admin's 2031 and the shipped 2032: %v", got.Days, want)
			}
			if got.Sources["2032"] != "next notice" {
				t.Errorf("sources %v", got.Sources)
			}
			// Nothing new: nothing written.
			changed, err = s.CalendarEnsureBuiltin(t.Context(), []*calendar.Calendar{&v2}, t0.Add(2*time.Hour))
			if err != nil || len(changed) != 0 {
				t.Errorf("a second ensure changed %v, %v", changed, err)
			}
		},
	})
}
