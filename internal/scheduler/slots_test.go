package scheduler

import (
	"slices"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/cron"
)

// at parses a UTC time of day on 2025-06-02 (a Monday), or a full RFC 3339
// time.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	if v, err := time.Parse(time.RFC3339, s); err == nil {
		return v.UTC()
	}
	v, err := time.Parse(time.DateTime, "2025-06-02 "+s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v.UTC()
}

// nextFunc returns the next-slot function the scheduler builds for a job,
// counting its calls in *calls.
func nextFunc(t *testing.T, expr, tz string, calls *int) func(time.Time) time.Time {
	t.Helper()
	s, err := cron.Parse(expr)
	if err != nil {
		t.Fatalf("cron.Parse(%q): %v", expr, err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", tz, err)
	}
	return func(after time.Time) time.Time {
		*calls++
		return s.Next(after, loc).UTC()
	}
}

func TestSlots(t *testing.T) {
	t.Parallel()
	const (
		everySecond = "* * * * * *"
		everyMinute = "0 * * * * *"
		hourly      = "0 0 * * * *"
		never       = "0 0 30 2 *" // February 30th
	)
	type tc struct {
		name    string
		expr    string
		misfire string
		window  time.Duration
		max     int // 0 = 1000
		prev    string
		now     string
		fire    []string
		next    string // "" = never again
	}
	tests := []tc{
		// On time: every policy fires the due slot.
		{name: "skip on time", expr: everyMinute, misfire: connecthub.MisfireSkip, prev: "12:00:00", now: "12:00:00", fire: []string{"12:00:00"}, next: "12:01:00"},
		{name: "once on time", expr: everyMinute, misfire: connecthub.MisfireOnce, window: time.Hour, prev: "12:00:00", now: "12:00:00", fire: []string{"12:00:00"}, next: "12:01:00"},
		{name: "all on time", expr: everyMinute, misfire: connecthub.MisfireAll, window: time.Hour, prev: "12:00:00", now: "12:00:00", fire: []string{"12:00:00"}, next: "12:01:00"},
		// Late but within the 30s grace is still on time.
		{name: "skip late within grace", expr: everyMinute, misfire: connecthub.MisfireSkip, prev: "12:00:00", now: "12:00:30", fire: []string{"12:00:00"}, next: "12:01:00"},
		{name: "skip late beyond grace", expr: everyMinute, misfire: connecthub.MisfireSkip, prev: "12:00:00", now: "12:00:31", next: "12:01:00"},
		{name: "once window below grace still fires within grace", expr: everyMinute, misfire: connecthub.MisfireOnce, window: 5 * time.Second, prev: "12:00:00", now: "12:00:20", fire: []string{"12:00:00"}, next: "12:01:00"},
		{name: "all window below grace still fires within grace", expr: everyMinute, misfire: connecthub.MisfireAll, window: 5 * time.Second, prev: "12:00:00", now: "12:00:20", fire: []string{"12:00:00"}, next: "12:01:00"},

		// Three hours down, hourly job.
		{name: "skip after downtime", expr: hourly, misfire: connecthub.MisfireSkip, prev: "09:00:00", now: "12:30:00", next: "13:00:00"},
		{name: "skip after downtime, slot within grace", expr: hourly, misfire: connecthub.MisfireSkip, prev: "09:00:00", now: "12:00:29", fire: []string{"12:00:00"}, next: "13:00:00"},
		{name: "once after downtime fires latest", expr: hourly, misfire: connecthub.MisfireOnce, window: time.Hour, prev: "09:00:00", now: "12:30:00", fire: []string{"12:00:00"}, next: "13:00:00"},
		{name: "once latest outside window", expr: hourly, misfire: connecthub.MisfireOnce, window: 20 * time.Minute, prev: "09:00:00", now: "12:30:00", next: "13:00:00"},
		{name: "once latest at window edge", expr: hourly, misfire: connecthub.MisfireOnce, window: 30 * time.Minute, prev: "09:00:00", now: "12:30:00", fire: []string{"12:00:00"}, next: "13:00:00"},
		{name: "once unbounded window", expr: hourly, misfire: connecthub.MisfireOnce, prev: "2025-05-01T00:00:00Z", now: "12:30:00", fire: []string{"12:00:00"}, next: "13:00:00"},
		{name: "once only prev due", expr: hourly, misfire: connecthub.MisfireOnce, window: time.Hour, prev: "12:00:00", now: "12:59:59", fire: []string{"12:00:00"}, next: "13:00:00"},
		// A late pass of a dense schedule: the pending slot is on time, so
		// every slot since it is, and fires under once too.
		{name: "once late pass fires every on-time slot", expr: everySecond, misfire: connecthub.MisfireOnce, window: time.Hour, prev: "12:00:00", now: "12:00:02",
			fire: []string{"12:00:00", "12:00:01", "12:00:02"}, next: "12:00:03"},
		{name: "once late pass at the grace's edge", expr: everySecond, misfire: connecthub.MisfireOnce, window: time.Hour, prev: "12:00:00", now: "12:00:30",
			fire: secondsFrom("12:00:00", 31), next: "12:00:31"},
		{name: "once pending slot missed fires latest", expr: everySecond, misfire: connecthub.MisfireOnce, window: time.Hour, prev: "12:00:00", now: "12:00:31",
			fire: []string{"12:00:31"}, next: "12:00:32"},
		{name: "all unbounded window", expr: hourly, misfire: connecthub.MisfireAll, prev: "09:00:00", now: "12:30:00", fire: []string{"09:00:00", "10:00:00", "11:00:00", "12:00:00"}, next: "13:00:00"},
		{name: "all bounded window", expr: hourly, misfire: connecthub.MisfireAll, window: 2 * time.Hour, prev: "09:00:00", now: "12:30:00", fire: []string{"11:00:00", "12:00:00"}, next: "13:00:00"},
		{name: "all window edge inclusive", expr: hourly, misfire: connecthub.MisfireAll, window: 90 * time.Minute, prev: "09:00:00", now: "12:30:00", fire: []string{"11:00:00", "12:00:00"}, next: "13:00:00"},
		{name: "all capped continues at first unfired", expr: hourly, misfire: connecthub.MisfireAll, max: 2, prev: "09:00:00", now: "12:30:00", fire: []string{"09:00:00", "10:00:00"}, next: "11:00:00"},
		{name: "all exactly at cap ends after now", expr: hourly, misfire: connecthub.MisfireAll, max: 2, prev: "11:00:00", now: "12:30:00", fire: []string{"11:00:00", "12:00:00"}, next: "13:00:00"},

		// Dense schedule: skip keeps only the slots within the grace.
		{name: "skip every second after downtime", expr: everySecond, misfire: connecthub.MisfireSkip, prev: "11:00:00", now: "12:00:02",
			fire: secondsFrom("11:59:32", 31), next: "12:00:03"},

		// A schedule that never fires again leaves no next slot.
		{name: "never again", expr: never, misfire: connecthub.MisfireSkip, prev: "12:00:00", now: "12:00:00", fire: []string{"12:00:00"}},
		{name: "never again once", expr: never, misfire: connecthub.MisfireOnce, prev: "12:00:00", now: "12:00:05", fire: []string{"12:00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls int
			next := nextFunc(t, tt.expr, "UTC", &calls)
			p := policy{misfire: tt.misfire, window: tt.window, grace: DefaultMisfireGrace, max: tt.max}
			if p.max == 0 {
				p.max = DefaultMaxSlotsPerPass
			}
			fire, after := slots(next, at(t, tt.prev), at(t, tt.now), p)
			var want []time.Time
			for _, s := range tt.fire {
				want = append(want, at(t, s))
			}
			if !slices.EqualFunc(fire, want, time.Time.Equal) {
				t.Errorf("fire = %v\nwant   %v", fire, want)
			}
			var wantNext time.Time
			if tt.next != "" {
				wantNext = at(t, tt.next)
			}
			if !after.Equal(wantNext) {
				t.Errorf("next = %v, want %v", after, wantNext)
			}
		})
	}
}

func secondsFrom(start string, n int) []string {
	t0, _ := time.Parse(time.TimeOnly, start)
	out := make([]string, n)
	for i := range out {
		out[i] = t0.Add(time.Duration(i) * time.Second).Format(time.TimeOnly)
	}
	return out
}

// TestSlotsBoundedWork checks that a long downtime of a dense schedule costs
// a bounded number of cron computations, whatever the policy: an
// every-second job down for ten years has 315 million missed slots.
func TestSlotsBoundedWork(t *testing.T) {
	t.Parallel()
	prev := at(t, "2015-06-02T12:00:00Z")
	now := at(t, "12:00:00")
	tests := []struct {
		misfire   string
		window    time.Duration
		wantFired int
		maxCalls  int
	}{
		{connecthub.MisfireSkip, 0, 31, 40},
		{connecthub.MisfireOnce, 0, 1, 100},
		{connecthub.MisfireOnce, time.Hour, 1, 100},
		{connecthub.MisfireAll, time.Hour, DefaultMaxSlotsPerPass, DefaultMaxSlotsPerPass + 2},
		{connecthub.MisfireAll, 0, DefaultMaxSlotsPerPass, DefaultMaxSlotsPerPass + 2},
	}
	for _, tt := range tests {
		t.Run(tt.misfire+"/"+tt.window.String(), func(t *testing.T) {
			t.Parallel()
			var calls int
			next := nextFunc(t, "* * * * * *", "UTC", &calls)
			p := policy{misfire: tt.misfire, window: tt.window, grace: DefaultMisfireGrace, max: DefaultMaxSlotsPerPass}
			fire, after := slots(next, prev, now, p)
			if len(fire) != tt.wantFired {
				t.Errorf("fired %d slots, want %d", len(fire), tt.wantFired)
			}
			if calls > tt.maxCalls {
				t.Errorf("%d calls of Next, want at most %d", calls, tt.maxCalls)
			}
			if after.IsZero() || (tt.misfire != connecthub.MisfireAll && !after.Equal(now.Add(time.Second))) {
				t.Errorf("next = %v", after)
			}
			if tt.misfire == connecthub.MisfireOnce && !fire[0].Equal(now) {
				t.Errorf("once fired %v, want the latest slot %v", fire[0], now)
			}
		})
	}
}

// TestLatestSlot checks the binary search against a plain walk on schedules
// with irregular gaps, in a zone with daylight saving.
func TestLatestSlot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr     string
		lookback time.Duration // how far before now the walk starts: short for dense schedules, to keep the walk cheap
	}{
		{"* * * * * *", 26 * time.Hour},
		{"*/7 * * * * *", 26 * time.Hour},
		{"30 2 * * *", 30 * 24 * time.Hour}, // fixed time inside the New York spring-forward gap
		{"0 * * * *", 30 * 24 * time.Hour},  // fires in both offsets on the fall-back day
		{"0 0 9 * * MON-FRI", 30 * 24 * time.Hour},
		{"0 0 0 29 2 *", 5 * 366 * 24 * time.Hour}, // leap days only
	}
	nows := []string{"2024-03-10T07:31:00Z", "2024-11-03T06:00:00Z", "2024-11-03T05:59:59Z", "2025-06-02T13:00:00Z", "2028-03-01T00:00:00Z"}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			var calls int
			next := nextFunc(t, tt.expr, "America/New_York", &calls)
			for _, n := range nows {
				now := at(t, n)
				start := next(now.Add(-tt.lookback))
				var want time.Time
				for s := start; !s.IsZero() && !s.After(now); s = next(s) {
					want = s
				}
				if want.IsZero() {
					t.Fatalf("now %v: no slot in the lookback; the test is wrong", now)
				}
				calls = 0
				if got := latestSlot(next, start, now); !got.Equal(want) {
					t.Errorf("now %v: latestSlot = %v, want %v", now, got, want)
				}
				if calls > 64 {
					t.Errorf("now %v: %d calls of Next, want a binary search", now, calls)
				}
			}
		})
	}
}

func TestCacheLocationFallsBackToUTC(t *testing.T) {
	t.Parallel()
	c := newCache()
	loc, err := c.location("Mars/Olympus_Mons")
	if err == nil || loc != time.UTC {
		t.Fatalf("location(unknown) = %v, %v; want UTC and an error", loc, err)
	}
	// The error is reported once per name, so it is logged once.
	if loc, err := c.location("Mars/Olympus_Mons"); err != nil || loc != time.UTC {
		t.Fatalf("second location(unknown) = %v, %v; want UTC and no error", loc, err)
	}
	sh, err := c.location("Asia/Shanghai")
	if err != nil || sh.String() != "Asia/Shanghai" {
		t.Fatalf("location(Asia/Shanghai) = %v, %v", sh, err)
	}
	if _, err := c.schedule("not a cron"); err == nil {
		t.Fatal("schedule(bad) returned no error")
	}
	if _, err := c.schedule("not a cron"); err == nil {
		t.Fatal("cached schedule(bad) returned no error")
	}
}
