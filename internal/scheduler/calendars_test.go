package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/calendar"
)

var shanghaiTZ = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// dates returns 09:00 in Shanghai on each "2006-01-02" date.
func dates(ds ...string) []time.Time {
	out := make([]time.Time, len(ds))
	for i, d := range ds {
		t, err := time.ParseInLocation("2006-01-02 15:04", d+" 09:00", shanghaiTZ)
		if err != nil {
			panic(err)
		}
		out[i] = t.UTC()
	}
	return out
}

// ensureCN stores the built-in calendars, as serve does at start.
func (e *env) ensureCN() {
	e.t.Helper()
	builtin, err := calendar.Builtin()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.CalendarEnsureBuiltin(e.ctx, builtin, e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// tickThrough fires the job's slots one by one with the fake clock until
// its next slot is after until, and returns the slots that got runs.
func (e *env) tickThrough(jobID string, until time.Time) []time.Time {
	e.t.Helper()
	for i := 0; i < 1000; i++ {
		next := e.get(jobID).NextRunAt
		if next == nil || next.After(until) {
			return slotsOf(e.runs(jobID))
		}
		if d := next.Sub(e.clock.Now()); d > 0 {
			e.clock.Advance(d)
		}
		if _, err := e.sched.Tick(e.ctx); err != nil {
			e.t.Fatalf("Tick: %v", err)
		}
	}
	e.t.Fatal("tickThrough did not reach the end")
	return nil
}

// TestCalendarWorkdaysCN walks a 09:00 working-days job through the
// Spring Festivals of 2025 and 2026 and the 2026 Mid-Autumn and National
// Day holidays with the fake clock: it fires on the make-up Saturdays and
// Sundays and on no holiday.
func TestCalendarWorkdaysCN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		from, to   string
		wantFiring []string
	}{
		{"spring festival 2025", "2025-01-24", "2025-02-10", []string{
			"2025-01-24", "2025-01-26", "2025-01-27", // Sunday the 26th is a make-up workday
			"2025-02-05", "2025-02-06", "2025-02-07", "2025-02-08", "2025-02-10"}},
		{"spring festival 2026", "2026-02-10", "2026-03-02", []string{
			"2026-02-10", "2026-02-11", "2026-02-12", "2026-02-13", "2026-02-14",
			"2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27", "2026-02-28", "2026-03-02"}},
		{"mid-autumn and national day 2026", "2026-09-18", "2026-10-12", []string{
			"2026-09-18", "2026-09-20", "2026-09-21", "2026-09-22", "2026-09-23", "2026-09-24",
			"2026-09-28", "2026-09-29", "2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := dates(tc.from)[0].Add(-time.Hour)
			e := setup(t, start)
			e.ensureCN()
			cn, err := e.store.CalendarGet(e.ctx, "cn")
			if err != nil {
				t.Fatal(err)
			}
			j := e.job("payroll", "0 9 * * *", func(j *connecthub.Job) {
				j.Timezone = "Asia/Shanghai"
				j.Calendar, j.CalendarMode = "cn", string(calendar.ModeWorkdays)
				next, err := j.NextFireIn(start, &cn.Calendar)
				if err != nil {
					t.Fatal(err)
				}
				j.NextRunAt = next
			})
			e.create(j)
			got := e.tickThrough("payroll", dates(tc.to)[0])
			if want := dates(tc.wantFiring...); !equalTimes(got, want) {
				t.Errorf("fired\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// TestCalendarChangedAfterPlanning: a slot planned before its day became a
// holiday does not fire; the job moves on to its next allowed slot.
func TestCalendarChangedAfterPlanning(t *testing.T) {
	t.Parallel()
	start := dates("2026-03-09")[0].Add(-time.Hour) // a Monday
	e := setup(t, start)
	plain := &connecthub.Calendar{Calendar: calendar.Calendar{Name: "ops"}}
	if _, err := e.store.CalendarPut(e.ctx, plain, start); err != nil {
		t.Fatal(err)
	}
	e.create(e.job("ops-sync", "0 9 * * *", func(j *connecthub.Job) {
		j.Timezone = "Asia/Shanghai"
		j.Calendar, j.CalendarMode = "ops", string(calendar.ModeSkipHolidays)
	}))
	plain.Days = []calendar.Day{{Date: "2026-03-09", Kind: calendar.KindHoliday, Name: "declared late"}}
	if _, err := e.store.CalendarPut(e.ctx, plain, start); err != nil {
		t.Fatal(err)
	}
	got := e.tickThrough("ops-sync", dates("2026-03-10")[0])
	if want := dates("2026-03-10"); !equalTimes(got, want) {
		t.Errorf("fired %v, want only %v", got, want)
	}
}

// TestCalendarMissingFiresNothing: a job whose calendar is gone fires none
// of its slots (fail closed), keeps its schedule moving, and says why.
func TestCalendarMissingFiresNothing(t *testing.T) {
	t.Parallel()
	start := dates("2026-03-09")[0].Add(-time.Hour)
	e := setup(t, start)
	e.create(e.job("orphan", "0 9 * * *", func(j *connecthub.Job) {
		j.Timezone = "Asia/Shanghai"
		j.Calendar, j.CalendarMode = "gone", string(calendar.ModeWorkdays)
	}))
	got := e.tickThrough("orphan", dates("2026-03-11")[0])
	if len(got) != 0 {
		t.Errorf("fired %v for a job whose calendar does not exist", got)
	}
	if next := e.get("orphan").NextRunAt; next == nil || !next.Equal(dates("2026-03-12")[0]) {
		t.Errorf("next_run_at = %v, want the schedule to move on", next)
	}
	if !strings.Contains(e.logs.String(), "calendar that does not exist") {
		t.Errorf("no error logged:\n%s", e.logs.String())
	}
}

// TestCalendarAcrossDST: in a zone with daylight saving time the calendar
// judges each slot by its local date, and the day the clocks skip 02:30
// still fires as the cron package says it does.
func TestCalendarAcrossDST(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	start := at("2026-03-07 00:00")
	e := setup(t, start)
	cal := &connecthub.Calendar{Calendar: calendar.Calendar{Name: "us-ops", Days: []calendar.Day{
		{Date: "2026-03-09", Kind: calendar.KindHoliday, Name: "team day"},
	}}}
	if _, err := e.store.CalendarPut(e.ctx, cal, start); err != nil {
		t.Fatal(err)
	}
	e.create(e.job("nightly", "30 2 * * *", func(j *connecthub.Job) {
		j.Timezone = "America/New_York"
		j.Calendar, j.CalendarMode = "us-ops", string(calendar.ModeSkipHolidays)
	}))
	got := e.tickThrough("nightly", at("2026-03-10 12:00"))
	spring := e.job("probe", "30 2 * * *", func(j *connecthub.Job) { j.Timezone = "America/New_York" })
	dstSlot, err := spring.NextFire(at("2026-03-08 00:00"))
	if err != nil || dstSlot == nil {
		t.Fatalf("cron's slot on the DST day: %v %v", dstSlot, err)
	}
	want := []time.Time{at("2026-03-07 02:30"), *dstSlot, at("2026-03-10 02:30")}
	if !equalTimes(got, want) {
		t.Errorf("fired %v, want %v (the 9th is a holiday)", got, want)
	}
}
