package cron

import (
	"math/bits"
	"time"
)

const (
	secondsPerDay = 86400

	// horizonSeconds bounds how far Next looks ahead. Any expression that
	// can match at all (see Schedule.never) matches at least once every
	// ~40 years (Feb 29 on a given weekday is the rarest day pattern), so
	// 100 years only cuts off expressions whose every wall-clock match falls
	// into daylight-saving gaps, which a frequent expression skips.
	horizonSeconds = 100 * 366 * secondsPerDay

	// cycleDays is the length of the Gregorian calendar cycle: 400 years
	// are exactly 146097 days, a whole number of weeks, so the calendar and
	// its weekdays repeat every 400 years.
	cycleDays = 146097

	// maxWallSteps and maxPeriods are safety nets on the two search loops.
	// The loops are bounded by the horizon anyway; these caps make the
	// bound independent of any reasoning about the inputs.
	maxWallSteps = 1 << 16
	maxPeriods   = 1 << 12

	allDays     uint32 = 0xFFFFFFFE // bits 1-31
	allWeekdays uint8  = 0x7F       // bits 0-6, Sunday = 0
)

var (
	// Fire times are limited to years 1 through 9999, the range that
	// RFC 3339 and time.Time's JSON encoding can represent.
	minUnix = daysFromCivil(1, 1, 1) * secondsPerDay
	maxUnix = daysFromCivil(10000, 1, 1) * secondsPerDay // exclusive
)

// Schedule is a parsed cron expression. It is immutable and safe for
// concurrent use. The zero value never fires; use Parse.
type Schedule struct {
	expr       string
	valid      bool  // set by Parse; the zero Schedule never fires
	hasSeconds bool  // 6 fields, or @every with sub-minute precision
	frequent   bool  // the hour field is *, a range or a step (see package doc)
	never      bool  // no wall-clock time ever matches, e.g. "0 0 30 2 *"
	every      int64 // @every interval in seconds, or 0

	seconds, minutes uint64 // bit n: value n
	hours            uint32 // bit n: hour n
	dom              uint32 // bit n: day n (1-31)
	months           uint16 // bit n: month n (1-12)
	dow              uint8  // bit n: weekday n (0 = Sunday)

	// domStar and dowStar record cronie's notion of an unrestricted day
	// field (its text starts with "*" or is "?"), which decides between
	// AND and OR when combining the two day fields.
	domStar, dowStar bool

	domLast        uint32   // bit n: "L-n" ("L" is n = 0)
	domNearest     uint32   // bit n: "nW"
	domLastWeekday bool     // "LW"
	dowLast        uint8    // bit w: "wL", the last weekday w of the month
	dowNth         [7]uint8 // dowNth[w] bit k: "w#k", the k-th weekday w

	// dowPattern[w] is the set of days 1-31 whose weekday is in dow, for a
	// month whose first day is weekday w; it turns the weekday test into a
	// mask lookup.
	dowPattern [7]uint32
}

// finish derives the lookup tables and the never flag once parsing is done.
func (s *Schedule) finish() {
	for w := range 7 {
		var m uint32
		for d := 1; d <= 31; d++ {
			if s.dow&(1<<((w+d-1)%7)) != 0 {
				m |= 1 << d
			}
		}
		s.dowPattern[w] = m
	}
	s.valid = true
	// The calendar repeats every 400 years, so an expression with no match
	// in one full cycle never matches. Knowing this up front lets Next
	// return at once instead of searching its whole horizon.
	lo := daysFromCivil(2000, 1, 1) * secondsPerDay
	_, ok := s.nextWall(lo, lo+(cycleDays+1)*secondsPerDay)
	s.never = !ok
}

// String returns the expression exactly as it was given to Parse.
func (s *Schedule) String() string {
	if s == nil {
		return ""
	}
	return s.expr
}

// HasSeconds reports whether the schedule has sub-minute precision: a
// 6-field expression, or @every with a duration that is not a whole number
// of minutes. Schedulers can use it to decide how precisely to wake up.
func (s *Schedule) HasSeconds() bool {
	return s != nil && s.hasSeconds
}

// NextN returns up to n successive fire times after after, in loc (nil
// means UTC). It returns fewer when the schedule runs out within Next's
// horizon, and nil when there are none or n <= 0.
func (s *Schedule) NextN(after time.Time, loc *time.Location, n int) []time.Time {
	if n <= 0 {
		return nil
	}
	var out []time.Time
	for len(out) < n {
		t := s.Next(after, loc)
		if t.IsZero() {
			break
		}
		if out == nil {
			out = make([]time.Time, 0, min(n, 1024))
		}
		out = append(out, t)
		after = t
	}
	return out
}

// Next returns the first fire time strictly after after, as a time in loc
// (nil means UTC), following the daylight-saving rules described in the
// package documentation. Fire times are whole seconds in the years 1 to
// 9999. It returns the zero time when no fire time lies within 100 years
// after after (and before the year 10000), and at once for an expression
// that can never fire, such as "0 0 30 2 *".
func (s *Schedule) Next(after time.Time, loc *time.Location) time.Time {
	if s == nil || !s.valid || s.never {
		return time.Time{}
	}
	if loc == nil {
		loc = time.UTC
	}
	u := after.Unix() // floor, so u+1 is the first whole second after after
	if u >= maxUnix-1 {
		return time.Time{}
	}
	start := max(u+1, minUnix)
	if s.every > 0 {
		return s.nextEvery(start, loc)
	}
	limit := min(start+horizonSeconds, maxUnix)

	// Walk the location's zone periods (stretches of constant UTC offset)
	// from start. Within a period, instants and wall-clock times map one to
	// one and in order, so the first matching wall-clock time is the first
	// matching instant. Transitions are where the DST rules apply.
	t := start
	for range maxPeriods {
		local := time.Unix(t, 0).In(loc)
		_, offset := local.Zone()
		off := int64(offset)
		zoneStart, zoneEnd := local.ZoneBounds()
		hi := limit
		if !zoneEnd.IsZero() {
			hi = min(hi, periodEnd(t, zoneEnd.Unix()))
		}
		lo := t
		if !s.frequent && !zoneStart.IsZero() {
			zs := zoneStart.Unix()
			_, prevOffset := time.Unix(zs-1, 0).In(loc).Zone()
			prev := int64(prevOffset)
			switch {
			case prev < off && t == zs:
				// Spring forward: the wall-clock times [zs+prev, zs+off)
				// never happen. A fixed-time expression that names one
				// fires once, at the first instant after the gap.
				if _, ok := s.nextWall(zs+prev, zs+off); ok {
					return local
				}
			case prev > off:
				// Fall back: the wall-clock times before zs+prev already
				// happened in the previous period; a fixed-time expression
				// fires only at their first occurrence. (This assumes the
				// previous period outlasts the repeated stretch, as it does
				// in every real zone: periods last months, repeats hours.)
				lo = max(lo, zs+prev-off)
			}
		}
		if lo < hi {
			if w, ok := s.nextWall(lo+off, hi+off); ok {
				return time.Unix(w-off, 0).In(loc)
			}
		}
		if hi >= limit {
			break
		}
		t = hi
	}
	return time.Time{}
}

// periodEnd returns the end of the zone period containing instant t, given
// the end reported by time.Time.ZoneBounds. Beyond the last transition in
// its table, the time package computes zones from the POSIX TZ rule one
// calendar year at a time and reports the year's end as start+365 days,
// which in a leap year is December 31, so the period that contains
// December 31 (UTC) ends "at or before" t and a loop would make no progress.
// The offset does not change there; the period really continues to the
// start of the next UTC year, where the time package starts the next
// year's computation, so that is where the search resumes.
func periodEnd(t, end int64) int64 {
	if end > t {
		return end
	}
	y, _, _ := civilFromDays(floorDiv(t, secondsPerDay))
	return daysFromCivil(y+1, 1, 1) * secondsPerDay
}

// nextEvery returns the first multiple of the @every interval, counted from
// the Unix epoch, at or after start (Unix seconds).
func (s *Schedule) nextEvery(start int64, loc *time.Location) time.Time {
	q := floorDiv(start, s.every)
	if q*s.every < start {
		q++
	}
	t := q * s.every
	if t >= maxUnix {
		return time.Time{}
	}
	return time.Unix(t, 0).In(loc)
}

// nextWall returns the first wall-clock time w with lo <= w < hi that
// matches the expression, where wall-clock times are seconds since
// 1970-01-01T00:00:00 on a clock without daylight saving. It skips whole
// months, days, hours and minutes that cannot match.
func (s *Schedule) nextWall(lo, hi int64) (int64, bool) {
	if lo >= hi {
		return 0, false
	}
	days := floorDiv(lo, secondsPerDay)
	sod := int(lo - days*secondsPerDay)
	y, mo, d := civilFromDays(days)
	h, mi, sec := sod/3600, sod/60%60, sod%60
	for range maxWallSteps {
		if s.months&(1<<mo) == 0 {
			next := s.months >> (mo + 1) << (mo + 1)
			if next == 0 {
				y++
				next = s.months
			}
			mo = bits.TrailingZeros16(next)
			d, h, mi, sec = 1, 0, 0, 0
		}
		dayStart := daysFromCivil(y, mo, d) * secondsPerDay
		if dayStart >= hi {
			return 0, false
		}
		dm := s.dayMask(y, mo) >> d << d
		if dm == 0 {
			if mo++; mo > 12 {
				y, mo = y+1, 1
			}
			d, h, mi, sec = 1, 0, 0, 0
			continue
		}
		if nd := bits.TrailingZeros64(dm); nd != d {
			dayStart += int64(nd-d) * secondsPerDay
			d, h, mi, sec = nd, 0, 0, 0
			if dayStart >= hi {
				return 0, false
			}
		}
		hm := uint64(s.hours) >> h << h
		if hm == 0 {
			d, h, mi, sec = d+1, 0, 0, 0
			continue
		}
		if nh := bits.TrailingZeros64(hm); nh != h {
			h, mi, sec = nh, 0, 0
		}
		mm := s.minutes >> mi << mi
		if mm == 0 {
			h, mi, sec = h+1, 0, 0
			continue
		}
		if nm := bits.TrailingZeros64(mm); nm != mi {
			mi, sec = nm, 0
		}
		sm := s.seconds >> sec << sec
		if sm == 0 {
			mi, sec = mi+1, 0
			continue
		}
		sec = bits.TrailingZeros64(sm)
		w := dayStart + int64(h*3600+mi*60+sec)
		if w >= hi {
			return 0, false
		}
		return w, true
	}
	return 0, false
}

// dayMask returns the days (bit n = day n) of the given month that match
// the day-of-month, day-of-week and month-relative (L, W, #) rules.
func (s *Schedule) dayMask(y int64, mo int) uint64 {
	dim := daysIn(y, mo)
	wd1 := weekday(daysFromCivil(y, mo, 1))

	domM := s.dom
	for m := s.domLast; m != 0; m &= m - 1 {
		if d := dim - bits.TrailingZeros32(m); d >= 1 {
			domM |= 1 << d
		}
	}
	for m := s.domNearest; m != 0; m &= m - 1 {
		if n := bits.TrailingZeros32(m); n <= dim {
			domM |= 1 << nearestWeekday(n, dim, wd1)
		}
	}
	if s.domLastWeekday {
		domM |= 1 << nearestWeekday(dim, dim, wd1)
	}

	dowM := s.dowPattern[wd1]
	if s.dowLast != 0 {
		wdLast := (wd1 + dim - 1) % 7
		for m := s.dowLast; m != 0; m &= m - 1 {
			w := bits.TrailingZeros8(m)
			dowM |= 1 << (dim - (wdLast-w+7)%7)
		}
	}
	for w, ks := range s.dowNth {
		first := 1 + (w-wd1+7)%7
		for ; ks != 0; ks &= ks - 1 {
			if d := first + 7*(bits.TrailingZeros8(ks)-1); d <= dim {
				dowM |= 1 << d
			}
		}
	}

	var m uint32
	if s.domStar || s.dowStar {
		m = domM & dowM
	} else {
		m = domM | dowM
	}
	return uint64(m) & (1<<(dim+1) - 2)
}

// nearestWeekday returns the Monday-to-Friday day closest to day n of a
// month with dim days whose first day is weekday wd1, without leaving the
// month: a Saturday moves to Friday (or to Monday the 3rd if n is the 1st),
// a Sunday to Monday (or to Friday if n is the last day).
func nearestWeekday(n, dim, wd1 int) int {
	switch (wd1 + n - 1) % 7 {
	case 6: // Saturday
		if n == 1 {
			return 3
		}
		return n - 1
	case 0: // Sunday
		if n == dim {
			return n - 2
		}
		return n + 1
	}
	return n
}

// weekday returns the weekday (0 = Sunday) of a day counted from 1970-01-01,
// which was a Thursday.
func weekday(days int64) int {
	return int(floorMod(days+4, 7))
}

// daysIn returns the number of days in month mo of year y (proleptic
// Gregorian).
func daysIn(y int64, mo int) int {
	switch mo {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (Howard Hinnant's algorithm). It is exact for
// all years, which keeps the search free of time.Date's normalisation.
func daysFromCivil(y int64, mo, d int) int64 {
	if mo <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400                     // [0, 399]
	mp := int64((mo + 9) % 12)             // March = 0
	doy := (153*mp+2)/5 + int64(d) - 1     // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return era*cycleDays + doe - 719468    // 719468 = days from 0000-03-01 to 1970-01-01
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y int64, mo, d int) {
	z += 719468
	era := floorDiv(z, cycleDays)
	doe := z - era*cycleDays
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		mo = int(mp + 3)
	} else {
		mo = int(mp - 9)
	}
	y = yoe + era*400
	if mo <= 2 {
		y++
	}
	return y, mo, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 {
	return a - floorDiv(a, b)*b
}
