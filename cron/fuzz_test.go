package cron

import (
	"errors"
	"testing"
	"time"
)

var fuzzZoneNames = []string{
	"UTC", "America/New_York", "Europe/London", "America/Santiago", "Australia/Lord_Howe", "Asia/Shanghai",
}

// FuzzNext checks that Parse never panics and that, for whatever parses,
// Next returns quickly either the zero time or a whole-second instant
// strictly after its argument that really matches the expression, and that
// the enumeration is consistent (starting anywhere before a fire time finds
// that same fire time).
//
//	go test -fuzz=FuzzNext ./cron
func FuzzNext(f *testing.F) {
	seeds := []string{
		"* * * * *", "* * * * * *", "0 * * * *", "30 2 * * *", "15,45 2 * * *", "30 1 * * *",
		"*/20 1 * * *", "0 2-2 * * *", "0 0 * * *", "30 23 * * *", "*/15 * * * *", "0 0 L * *",
		"0 0 L-3 * *", "0 0 15W * *", "0 0 LW * *", "0 0 * * 5L", "0 0 * * 1#2", "0 0 ? * MON#5",
		"0 0 13 * FRI", "0 0 */2 * MON", "0 0 * * 7", "0 0 * * FRI-SUN", "0 0 29 2 *", "0 0 30 2 *",
		"0 0 31 4,6,9,11 *", "0 2-2 ? 3 SUN#2", "@yearly", "@annually", "@monthly", "@weekly", "@daily",
		"@midnight", "@hourly", "@every 1s", "@every 90m", "@every 7s", "@every 8760h", "@every 2562047h",
		"*/13 * 0-3 * * *", "59 59 23 31 12 *", "0 0 0 1 1 *", "5/7 10/9 3/4 2/3 2/3 1/2",
		"1-59/58 0-23/23 1-31/30 1-12/11 0-7/7", "0 0 1W,L-30 FEB ?", "0 0 ? * 0#5,6L",
		"0 0 31W 1-12 ?", "", "@", "@every", "@every 0s", "@every 1.5s", "61 * * * *", "1-x * * * *",
		"*/0 * * * *", "22-2 * * * *", "? * * * *", "0 0 ?,1 * *", "0 0 * * L", "0 0 * * 1#6",
		"0 0 L-31 * *", "0 0 32W * *", "junk", "1,,2 * * * *", "\t0\n0 * * *", "０ 0 * * *",
	}
	afters := []int64{
		time.Date(2025, 3, 9, 6, 30, 0, 0, time.UTC).Unix(),   // before the New York gap
		time.Date(2025, 11, 2, 5, 45, 0, 0, time.UTC).Unix(),  // inside New York's repeated hour
		time.Date(2025, 9, 7, 3, 59, 59, 0, time.UTC).Unix(),  // Santiago's missing midnight
		time.Date(2025, 10, 4, 15, 29, 0, 0, time.UTC).Unix(), // Lord Howe's half-hour gap
		time.Date(2096, 12, 31, 12, 0, 0, 0, time.UTC).Unix(), // leap year end beyond the tz table
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC).Unix(),
		0, -1, -62135596800, 1 << 62, -(1 << 62),
	}
	for i, e := range seeds {
		f.Add(e, afters[i%len(afters)], uint8(i))
	}
	locs := make([]*time.Location, len(fuzzZoneNames))
	for i, name := range fuzzZoneNames {
		locs[i] = mustLoad(f, name)
	}

	f.Fuzz(func(t *testing.T, expr string, afterSec int64, sel uint8) {
		s, err := Parse(expr)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Msg == "" || pe.Expr != expr {
				t.Fatalf("Parse(%q): error %#v is not a complete *ParseError", expr, err)
			}
			if s != nil || err.Error() == "" {
				t.Fatalf("Parse(%q): schedule %v with error %q", expr, s, err)
			}
			return
		}
		if s.String() != expr {
			t.Fatalf("String() = %q, want %q", s.String(), expr)
		}
		loc := locs[int(sel)%len(locs)]
		after := time.Unix(afterSec, 0)
		nearTransition := false
		if sel&0x40 != 0 && s.every == 0 {
			// Put after within two hours of a transition of a year in
			// 1970-2069, and compare with the brute-force reference below.
			trs := transitions(loc, 1970+int(floorMod(afterSec, 100)))
			if len(trs) > 0 {
				tr := trs[floorMod(afterSec>>7, int64(len(trs)))]
				after = tr.Add(time.Duration(floorMod(afterSec>>9, 4*3600)-2*3600)*time.Second +
					time.Duration(sel)*3_900_000)
				nearTransition = true
			}
		} else if sel&0x80 == 0 {
			// Map most inputs into the supported years (with a margin
			// either side), where the search does real work; the rest
			// exercise arbitrary instants.
			margin := int64(366 * secondsPerDay)
			span := maxUnix - minUnix + 2*margin
			after = time.Unix(minUnix-margin+floorMod(afterSec, span), int64(sel)*3_900_000)
		}

		start := time.Now()
		next := s.Next(after, loc)
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("%q: Next(%v) took %v", expr, after, el)
		}
		if nearTransition {
			checkNearTransition(t, s, loc, after, next)
		}
		if next.IsZero() {
			return
		}
		if !next.After(after) {
			t.Fatalf("%q in %v: Next(%v) = %v is not after it", expr, loc, after, next)
		}
		if next.Nanosecond() != 0 || next.Location() != loc {
			t.Fatalf("%q: Next = %v (location %v), want whole seconds in %v", expr, next, next.Location(), loc)
		}
		if again := s.Next(next.Add(-time.Nanosecond), loc); !again.Equal(next) {
			t.Fatalf("%q in %v: Next(%v - 1ns) = %v, want %v", expr, loc, next, again, next)
		}
		if mid := after.Add(next.Sub(after) / 2); mid.After(after) {
			if again := s.Next(mid, loc); !again.Equal(next) {
				t.Fatalf("%q in %v: Next(%v) = %v but Next(%v) = %v", expr, loc, after, next, mid, again)
			}
		}
		if following := s.Next(next, loc); !following.IsZero() && !following.After(next) {
			t.Fatalf("%q in %v: Next(%v) = %v does not move forward", expr, loc, next, following)
		}

		if s.every > 0 {
			if next.Unix()%s.every != 0 {
				t.Fatalf("%q: %v is not a multiple of %ds since the epoch", expr, next, s.every)
			}
			return
		}
		l := next.In(loc)
		wall := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
		if refMatch(s, wall) {
			return
		}
		// The only fire times whose wall clock does not match are those of
		// fixed-time expressions at the first instant after a gap.
		zoneStart, _ := l.ZoneBounds()
		_, off := l.Zone()
		if s.frequent || !zoneStart.Equal(next) {
			t.Fatalf("%q in %v: %v does not match and is not the end of a gap", expr, loc, l)
		}
		if _, prev := next.Add(-time.Second).In(loc).Zone(); prev >= off {
			t.Fatalf("%q in %v: %v does not match and follows no gap", expr, loc, l)
		}
	})
}

// checkNearTransition compares Next(after) = next with the first fire time
// after after that the brute-force reference finds in a window around it.
// The window starts far enough back (26 hours, or 2 hours at second
// resolution) that its first wall-clock time has not been seen before.
func checkNearTransition(t *testing.T, s *Schedule, loc *time.Location, after, next time.Time) {
	t.Helper()
	step, back, ahead := time.Minute, 26*time.Hour, 6*time.Hour
	if s.hasSeconds {
		step, back, ahead = time.Second, 2*time.Hour, 30*time.Minute
	}
	from := after.Truncate(step).Add(-back)
	to := after.Add(ahead)
	for _, f := range refFires(s, loc, from, to, step) {
		if f.After(after) {
			if !next.Equal(f) {
				t.Fatalf("%q in %v: Next(%v) = %v, reference says %v", s, loc, after.In(loc), next, f)
			}
			return
		}
	}
	if !next.IsZero() && next.Before(to) {
		t.Fatalf("%q in %v: Next(%v) = %v, reference has nothing before %v", s, loc, after.In(loc), next, to.In(loc))
	}
}
