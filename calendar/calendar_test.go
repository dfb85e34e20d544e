package calendar_test

import (
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub/calendar"
	"github.com/connecthub/connecthub/cron"
)

func builtinCN(t *testing.T) *calendar.Calendar {
	t.Helper()
	cals, err := calendar.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cals {
		if c.Name == "cn" {
			return c
		}
	}
	t.Fatal("no built-in cn calendar")
	return nil
}

var shanghai = mustLoad("Asia/Shanghai")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func day(s string, loc *time.Location) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

// TestCNAllows checks the days around 2026's Spring Festival and National
// Day, where the make-up Saturdays and Sundays are, in both modes.
func TestCNAllows(t *testing.T) {
	t.Parallel()
	cn := builtinCN(t)
	for _, tc := range []struct {
		at     string
		mode   calendar.Mode
		ok     bool
		reason string
	}{
		{"2026-02-13 09:00", calendar.ModeWorkdays, true, ""},                      // Friday
		{"2026-02-14 09:00", calendar.ModeWorkdays, true, ""},                      // make-up Saturday
		{"2026-02-15 09:00", calendar.ModeWorkdays, false, "春节 / Spring Festival"}, // Sunday and holiday: the holiday wins
		{"2026-02-16 09:00", calendar.ModeWorkdays, false, "春节 / Spring Festival"},
		{"2026-02-23 09:00", calendar.ModeWorkdays, false, "春节 / Spring Festival"},
		{"2026-02-24 09:00", calendar.ModeWorkdays, true, ""},
		{"2026-02-28 09:00", calendar.ModeWorkdays, true, ""},              // make-up Saturday
		{"2026-03-01 09:00", calendar.ModeWorkdays, false, "周末 / Weekend"}, // plain Sunday
		{"2026-03-01 09:00", calendar.ModeSkipHolidays, true, ""},
		{"2026-10-01 09:00", calendar.ModeSkipHolidays, false, "国庆节 / National Day"},
		{"2026-09-20 09:00", calendar.ModeWorkdays, true, ""}, // make-up Sunday
		{"2026-10-08 09:00", calendar.ModeWorkdays, true, ""},
		{"2026-10-10 09:00", calendar.ModeWorkdays, true, ""},
		{"2025-10-08 09:00", calendar.ModeWorkdays, false, "国庆节、中秋节 / National Day and Mid-Autumn Festival"},
		{"2025-01-26 09:00", calendar.ModeWorkdays, true, ""},
		// A slot is judged by its local date: 07:00 in Shanghai on the
		// first working day after the Spring Festival is still the 23rd,
		// a holiday, in UTC.
		{"2026-02-24 07:00", calendar.ModeWorkdays, true, ""},
	} {
		ok, reason := cn.Allows(day(tc.at, shanghai), tc.mode)
		if ok != tc.ok || reason != tc.reason {
			t.Errorf("%s %s: Allows = %v %q, want %v %q", tc.at, tc.mode, ok, reason, tc.ok, tc.reason)
		}
	}
}

// TestCNWorkingDaysPerYear counts the working days of 2025 and 2026 the
// calendar yields: 248 each, the figure published with the notices.
func TestCNWorkingDaysPerYear(t *testing.T) {
	t.Parallel()
	cn := builtinCN(t)
	for year, want := range map[int]int{2025: 248, 2026: 248} {
		n := 0
		for d := time.Date(year, 1, 1, 12, 0, 0, 0, shanghai); d.Year() == year; d = d.AddDate(0, 0, 1) {
			if ok, _ := cn.Allows(d, calendar.ModeWorkdays); ok {
				n++
			}
		}
		if n != want {
			t.Errorf("%d: %d working days, want %d", year, n, want)
		}
		if !cn.Covers(year) {
			t.Errorf("cn does not cover %d", year)
		}
	}
	if cn.Covers(2031) {
		t.Error("cn covers 2031")
	}
	if len(cn.Sources) < 2 {
		t.Errorf("cn cites %d sources", len(cn.Sources))
	}
}

// TestNextOverSpringFestival: a 09:00 job on working days fires on the
// make-up Saturday before the holiday, then next on the Tuesday after it,
// having skipped the nine days between with their reason.
func TestNextOverSpringFestival(t *testing.T) {
	t.Parallel()
	cn := builtinCN(t)
	sched, err := cron.Parse("0 9 * * *")
	if err != nil {
		t.Fatal(err)
	}
	next := func(t time.Time) time.Time { return sched.Next(t, shanghai) }
	got, skipped := calendar.Next(next, cn, calendar.ModeWorkdays, day("2026-02-13 10:00", shanghai), 100)
	if want := day("2026-02-14 09:00", shanghai); !got.Equal(want) || len(skipped) != 0 {
		t.Fatalf("after Friday: %v (skipped %v), want %v", got, skipped, want)
	}
	got, skipped = calendar.Next(next, cn, calendar.ModeWorkdays, got, 100)
	if want := day("2026-02-24 09:00", shanghai); !got.Equal(want) {
		t.Fatalf("after the make-up Saturday: %v, want %v", got, want)
	}
	if len(skipped) != 9 {
		t.Fatalf("skipped %d slots, want 9 (15th to 23rd): %v", len(skipped), skipped)
	}
	for _, s := range skipped {
		if s.Reason != "春节 / Spring Festival" {
			t.Errorf("skipped %v for %q", s.Time, s.Reason)
		}
	}
	// keepSkipped bounds what is returned, not the search.
	got2, few := calendar.Next(next, cn, calendar.ModeWorkdays, day("2026-02-14 10:00", shanghai), 2)
	if !got2.Equal(got) || len(few) != 2 {
		t.Errorf("keepSkipped 2: %v with %d skipped", got2, len(few))
	}
}

// TestNextDST: a calendar is applied to local dates in a zone with
// daylight saving time, and a calendar that allows nothing ends the search
// instead of looping.
func TestNextDST(t *testing.T) {
	t.Parallel()
	ny := mustLoad("America/New_York")
	cal := &calendar.Calendar{Name: "us-test", Days: []calendar.Day{
		{Date: "2026-03-09", Kind: calendar.KindHoliday, Name: "test holiday"},
	}}
	if err := cal.Validate(); err != nil {
		t.Fatal(err)
	}
	sched, err := cron.Parse("30 2 * * *") // 02:30 does not exist on 2026-03-08 in New York
	if err != nil {
		t.Fatal(err)
	}
	next := func(t time.Time) time.Time { return sched.Next(t, ny) }
	after := day("2026-03-07 12:00", ny)
	got, skipped := calendar.Next(next, cal, calendar.ModeSkipHolidays, after, 10)
	want := sched.Next(after, ny) // the cron package's own DST answer for the 8th
	if !got.Equal(want) || len(skipped) != 0 {
		t.Fatalf("got %v skipped %v, want %v", got, skipped, want)
	}
	got, skipped = calendar.Next(next, cal, calendar.ModeSkipHolidays, got, 10)
	if want := day("2026-03-10 02:30", ny); !got.Equal(want) || len(skipped) != 1 || skipped[0].Reason != "test holiday" {
		t.Fatalf("over the holiday: %v skipped %v, want %v", got, skipped, want)
	}

	none := &calendar.Calendar{Name: "none"}
	for d := day("2026-01-01 00:00", ny); d.Year() == 2026; d = d.AddDate(0, 0, 1) {
		none.Days = append(none.Days, calendar.Day{Date: d.Format(calendar.DateLayout), Kind: calendar.KindHoliday})
	}
	if err := none.Validate(); err != nil {
		t.Fatal(err)
	}
	yearly, _ := cron.Parse("0 0 1 1 *")
	got, _ = calendar.Next(func(t time.Time) time.Time { return yearly.Next(t, ny) }, none, calendar.ModeSkipHolidays, day("2025-06-01 00:00", ny), 0)
	if want := day("2027-01-01 00:00", ny); !got.Equal(want) {
		t.Errorf("yearly over a year of holidays: %v, want %v", got, want)
	}
	minutely, _ := cron.Parse("* * * * *")
	got, _ = calendar.Next(func(t time.Time) time.Time { return minutely.Next(t, ny) }, none, calendar.ModeSkipHolidays, day("2026-01-01 00:00", ny), 0)
	if !got.IsZero() {
		t.Errorf("minutely through a year of holidays found %v; want the search bounded by MaxSkips", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cal  calendar.Calendar
		want string
	}{
		{"no name", calendar.Calendar{}, "name: required"},
		{"bad name", calendar.Calendar{Name: "a b"}, "name: "},
		{"bad date", calendar.Calendar{Name: "x", Days: []calendar.Day{{Date: "2026-02-30", Kind: calendar.KindHoliday}}}, "days[0].date"},
		{"bad kind", calendar.Calendar{Name: "x", Days: []calendar.Day{{Date: "2026-02-03", Kind: "off"}}}, "days[0].kind"},
		{"twice", calendar.Calendar{Name: "x", Days: []calendar.Day{
			{Date: "2026-02-03", Kind: calendar.KindHoliday}, {Date: "2026-02-03", Kind: calendar.KindWorkday}}}, "days[1].date: 2026-02-03 is listed twice"},
	} {
		err := tc.cal.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := calendar.ParseMode("weekdays"); err == nil {
		t.Error("ParseMode accepted weekdays")
	}
	if m, err := calendar.ParseMode(""); err != nil || m != calendar.ModeWorkdays {
		t.Errorf("ParseMode(\"\") = %q, %v", m, err)
	}
}
