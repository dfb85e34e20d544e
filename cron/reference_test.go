package cron

import (
	"fmt"
	"testing"
	"time"
)

// This file checks Next against a deliberately naive reference: it visits
// every real instant (minute or second) of a window around each daylight-
// saving transition, reads the wall clock with time.Time.In, and applies the
// DST rules straight from their definitions. The two share only the parsed
// field masks, which TestParseFields checks separately.

// refMatch reports whether wall (a UTC time whose fields are the local wall
// clock) matches s, deriving the month-relative day rules from first
// principles with the time package instead of the masks dayMask builds.
func refMatch(s *Schedule, wall time.Time) bool {
	if s.seconds&(1<<wall.Second()) == 0 || s.minutes&(1<<wall.Minute()) == 0 ||
		s.hours&(1<<wall.Hour()) == 0 || s.months&(1<<int(wall.Month())) == 0 {
		return false
	}
	y, m, d := wall.Date()
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	weekdayOf := func(day int) time.Weekday { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Weekday() }
	isWorkday := func(day int) bool { wd := weekdayOf(day); return wd != time.Saturday && wd != time.Sunday }

	domOK := s.dom&(1<<d) != 0
	for n := 0; n <= 30; n++ {
		if s.domLast&(1<<n) != 0 && d == last-n {
			domOK = true
		}
	}
	// nW: the workday of this month closest to day n (there are never ties:
	// a weekend day is one day from one workday and two from the other).
	for n := 1; n <= 31; n++ {
		if s.domNearest&(1<<n) == 0 || n > last {
			continue
		}
		best := 0
		for c := 1; c <= last; c++ {
			if isWorkday(c) && (best == 0 || abs(c-n) < abs(best-n)) {
				best = c
			}
		}
		if d == best {
			domOK = true
		}
	}
	if s.domLastWeekday {
		lw := last
		for !isWorkday(lw) {
			lw--
		}
		if d == lw {
			domOK = true
		}
	}

	wd := int(wall.Weekday())
	dowOK := s.dow&(1<<wd) != 0
	if s.dowLast&(1<<wd) != 0 && d+7 > last {
		dowOK = true
	}
	if s.dowNth[wd]&(1<<((d-1)/7+1)) != 0 {
		dowOK = true
	}
	if s.domStar || s.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// refFires lists the fire times in (from, to) by visiting every instant at
// the given step. from must be far enough from any transition that its wall
// clock has not been seen before.
func refFires(s *Schedule, loc *time.Location, from, to time.Time, step time.Duration) []time.Time {
	wallOf := func(t time.Time) time.Time {
		l := t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
	}
	var out []time.Time
	prev := wallOf(from)
	maxWall := prev // the latest wall-clock time seen so far
	for t := from.Add(step); t.Before(to); t = t.Add(step) {
		w := wallOf(t)
		fire := false
		if refMatch(s, w) {
			// Frequent: every real instant that matches. Fixed: only the
			// first time this wall-clock time is seen.
			fire = s.frequent || w.After(maxWall)
		}
		if !s.frequent {
			// The wall clock jumped forward over a gap: a fixed-time
			// expression that names any skipped time fires now, once.
			for g := prev.Add(step); g.Before(w); g = g.Add(step) {
				if refMatch(s, g) {
					fire = true
					break
				}
			}
		}
		if fire {
			out = append(out, t.In(loc))
		}
		if w.After(maxWall) {
			maxWall = w
		}
		prev = w
	}
	return out
}

// transitions returns the instants in the given year at which loc's UTC
// offset changes.
func transitions(loc *time.Location, year int) []time.Time {
	var out []time.Time
	t := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	endOfYear := time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for t < endOfYear {
		cur := time.Unix(t, 0).In(loc)
		_, end := cur.ZoneBounds()
		if end.IsZero() {
			break
		}
		next := periodEnd(t, end.Unix())
		_, before := cur.Zone()
		_, after := time.Unix(next, 0).In(loc).Zone()
		if before != after && next < endOfYear {
			out = append(out, time.Unix(next, 0).UTC())
		}
		t = next
	}
	return out
}

type refWindow struct {
	zone string
	from time.Time
	to   time.Time
}

// refWindows returns windows of ±span around every transition of the test
// zones in years that exercise the tzdata table (2025), the POSIX rule that
// extends it (2040), historical rules (New York 1974, Shanghai 1988,
// Santiago's delayed 2022 change, Apia skipping a whole day in 2011) and
// the year-end of a leap year beyond the table (2096), plus a plain window
// in Shanghai.
func refWindows(t *testing.T, span time.Duration) []refWindow {
	t.Helper()
	years := map[string][]int{
		"America/New_York":    {1974, 2025, 2040},
		"Europe/London":       {2025, 2040},
		"America/Santiago":    {2022, 2025, 2040},
		"Australia/Lord_Howe": {2025, 2040},
		"Asia/Shanghai":       {1988},
		"Pacific/Apia":        {2011},
	}
	var out []refWindow
	for zone, ys := range years {
		loc := mustLoad(t, zone)
		for _, y := range ys {
			tr := transitions(loc, y)
			if len(tr) == 0 {
				t.Fatalf("%s has no transitions in %d", zone, y)
			}
			for _, tt := range tr {
				out = append(out, refWindow{zone, tt.Add(-span), tt.Add(span)})
			}
		}
	}
	yearEnd := time.Date(2096, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, zone := range []string{"America/New_York", "Australia/Lord_Howe"} {
		out = append(out, refWindow{zone, yearEnd.Add(-span), yearEnd.Add(span)})
	}
	mid := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	out = append(out, refWindow{"Asia/Shanghai", mid.Add(-span), mid.Add(span)})
	return out
}

func TestNextMatchesReference(t *testing.T) {
	t.Parallel()
	minuteExprs := []string{
		"* * * * *", "*/7 * * * *", "0 * * * *", "30 * * * *", "@hourly",
		"0 0 * * *", "30 0 * * *", "0 1 * * *", "30 1 * * *", "45 1 * * *",
		"0 2 * * *", "15,45 2 * * *", "30 2 * * *", "* 2 * * *", "*/20 1 * * *",
		"0 3 * * *", "59 23 * * *", "30 23 * * *", "0 0,1,2,3 * * *",
		"*/15 0-3 * * *", "0 1-3 * * *", "0 22-23 * * *", "*/10 23 * * *",
		"0 0 L * *", "0 12 * * SUN", "30 0 ? * 0#1", "0 12 1W * *", "0 0 LW * *",
		"0 0 L-1 * 6L", "@daily", "@weekly", "0 0 31 12 *", "0 0 1 1 *",
	}
	secondExprs := []string{
		"* * * * * *", "*/13 * * * * *", "30 * * * * *", "0 30 2 * * *",
		"* * 1 * * *", "*/10 * 0-3 * * *", "59 59 1 * * *", "0 0 0 * * *",
		"* 30 1 * * *", "*/7 * 23 * * *",
	}
	type group struct {
		exprs []string
		step  time.Duration
		span  time.Duration
	}
	for _, g := range []group{
		{minuteExprs, time.Minute, 26 * time.Hour},
		{secondExprs, time.Second, 70 * time.Minute},
	} {
		windows := refWindows(t, g.span)
		for _, expr := range g.exprs {
			t.Run(fmt.Sprintf("%s/%v", expr, g.step), func(t *testing.T) {
				t.Parallel()
				s := mustParse(t, expr)
				for _, w := range windows {
					checkWindow(t, s, mustLoad(t, w.zone), w.from, w.to, g.step)
				}
			})
		}
	}
}

// checkWindow compares Next with the reference over one window: the full
// enumeration from the window's start, and Next from points in between.
func checkWindow(t *testing.T, s *Schedule, loc *time.Location, from, to time.Time, step time.Duration) {
	t.Helper()
	want := refFires(s, loc, from, to, step)
	var got []time.Time
	for cur := from; ; {
		n := s.Next(cur, loc)
		if n.IsZero() || !n.Before(to) {
			break
		}
		got = append(got, n)
		cur = n
		if len(got) > len(want)+5 {
			break
		}
	}
	if !sameTimes(got, want) {
		t.Errorf("%q in %s from %s:\n got  %s\n want %s", s, loc, from.In(loc).Format(time.RFC3339),
			fmtTimes(got), fmtTimes(want))
		return
	}
	// Starting anywhere (including inside a repeated hour, and between
	// whole seconds) must land on the first reference fire time after it.
	for i, cur := 0, from; cur.Before(to); i, cur = i+1, cur.Add(step*17+step/3) {
		j := 0
		for j < len(want) && !want[j].After(cur) {
			j++
		}
		if j == len(want) {
			break
		}
		if n := s.Next(cur, loc); !n.Equal(want[j]) {
			t.Errorf("%q in %s: Next(%s) = %s, want %s", s, loc, cur.In(loc).Format(time.RFC3339Nano),
				n.Format(time.RFC3339), want[j].Format(time.RFC3339))
			return
		}
	}
}

func sameTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) || a[i].Format(time.RFC3339) != b[i].Format(time.RFC3339) {
			return false
		}
	}
	return true
}

func fmtTimes(ts []time.Time) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format(time.RFC3339)
	}
	if len(out) > 12 {
		return fmt.Sprint(len(out), " times: ", out[:6], " ... ", out[len(out)-6:])
	}
	return fmt.Sprint(out)
}

// TestNextDaysMatchReference checks the day rules (L, L-n, nW, LW, nL, n#k,
// and the AND/OR combination of the day fields) against the reference over
// seven years, leap years included, one day at a time.
func TestNextDaysMatchReference(t *testing.T) {
	t.Parallel()
	exprs := []string{
		"0 0 L * *", "0 0 L-1 * *", "0 0 L-27 * *", "0 0 L-28 * *", "0 0 L-30 * *",
		"0 0 1W * *", "0 0 2W * *", "0 0 15W * *", "0 0 28W * *", "0 0 29W * *", "0 0 30W * *", "0 0 31W * *",
		"0 0 LW * *", "0 0 LW,1W * *", "0 0 L,15 * *",
		"0 0 ? * 0L", "0 0 ? * 1L", "0 0 ? * 6L,3L", "0 0 ? * 7L",
		"0 0 ? * 1#1", "0 0 ? * 3#3", "0 0 ? * 5#5", "0 0 ? * 0#4,6#2",
		"0 0 13 * 5", "0 0 L * 1#1", "0 0 15W * 5L", "0 0 */2 * MON", "0 0 * * MON",
		"0 0 1-7 * MON", "0 0 ? * MON-FRI", "0 0 29 2 *", "0 0 29 2 1", "0 0 */5 */2 */3",
		"0 0 31 * *", "0 0 ? FEB 2#5",
	}
	from := time.Date(2022, 12, 31, 0, 0, 0, 0, time.UTC)
	to := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, expr := range exprs {
		t.Run(expr, func(t *testing.T) {
			t.Parallel()
			checkWindow(t, mustParse(t, expr), time.UTC, from, to, 24*time.Hour)
		})
	}
}
