package scheduler

import (
	"sync"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/cron"
)

// policy is everything slot planning needs to know about a job besides its
// schedule, so that planning is a pure function that tests can table-drive.
type policy struct {
	misfire string        // connecthub.MisfireSkip, MisfireOnce or MisfireAll
	window  time.Duration // the job's misfire_window; 0 = unbounded
	grace   time.Duration // Config.MisfireGrace
	max     int           // Config.MaxSlotsPerPass
}

// slots computes the slots at or before now that fire for a job whose
// pending slot is prev (prev <= now), and the job's next pending slot: the
// first slot after now, or the first slot not fired when "all" reached
// p.max. A zero next means the schedule never fires again.
//
// The work is bounded whatever the downtime: skip and a bounded window start
// enumerating at now minus the window instead of at prev, "once" finds the
// latest slot by binary search, and enumeration stops at p.max.
func slots(next func(time.Time) time.Time, prev, now time.Time, p policy) (fire []time.Time, after time.Time) {
	switch p.misfire {
	case connecthub.MisfireSkip:
		return enumerate(next, firstAtOrAfter(next, prev, now.Add(-p.grace)), now, p.max)
	case connecthub.MisfireAll:
		from := prev
		if p.window > 0 {
			from = firstAtOrAfter(next, prev, now.Add(-max(p.window, p.grace)))
		}
		return enumerate(next, from, now, p.max)
	default: // connecthub.MisfireOnce, the default: catch up once, not in a burst
		if now.Sub(prev) <= p.grace {
			// The pending slot is on time, so every slot after it is: the
			// pass is late (a loaded machine, a replica restarting), no
			// slot was missed, and each fires, as under skip. Firing only
			// the latest would drop the others of a dense schedule (an
			// every-second job whose pass came 1.2 s late lost a slot).
			return enumerate(next, prev, now, p.max)
		}
		latest := latestSlot(next, prev, now)
		after = next(now)
		if p.window == 0 || now.Sub(latest) <= max(p.window, p.grace) {
			fire = []time.Time{latest}
		}
		return fire, after
	}
}

// firstAtOrAfter returns prev if it is at or after lower, else the first
// slot at or after lower (which may be after now, or zero).
func firstAtOrAfter(next func(time.Time) time.Time, prev, lower time.Time) time.Time {
	if !prev.Before(lower) {
		return prev
	}
	return next(lower.Add(-time.Nanosecond))
}

// enumerate lists the slots from `from` (inclusive) up to now, at most max,
// and returns them with the slot that follows: the first one after now, or
// the first one left out by max.
func enumerate(next func(time.Time) time.Time, from, now time.Time, max int) ([]time.Time, time.Time) {
	var fire []time.Time
	s := from
	for !s.IsZero() && !s.After(now) {
		if len(fire) >= max {
			return fire, s
		}
		fire = append(fire, s)
		s = next(s)
	}
	return fire, s
}

// latestSlot returns the latest slot at or before now, given a slot prev at
// or before now. Walking from prev could take millions of steps after a long
// downtime of a frequent job, so it searches the whole seconds (cron fire
// times are whole seconds) between the slot after prev and now for the last
// second u such that a slot lies in [u, now]: a monotone predicate, so about
// 35 calls of next cover centuries.
func latestSlot(next func(time.Time) time.Time, prev, now time.Time) time.Time {
	first := next(prev)
	if first.IsZero() || first.After(now) {
		return prev // the common case: one slot is due
	}
	slotIn := func(u int64) bool { // is there a slot in [u, now]?
		s := next(time.Unix(u-1, 0))
		return !s.IsZero() && !s.After(now)
	}
	lo, hi := first.Unix(), now.Unix()+1 // slotIn(lo) holds, slotIn(hi) does not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if slotIn(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return next(time.Unix(lo-1, 0))
}

// maxCacheEntries bounds the caches below. Distinct expressions and zones
// are few, but edits over months add entries that are never used again;
// clearing the cache when it is full is simpler than LRU and costs one
// re-parse per live expression.
const maxCacheEntries = 4096

// cache keeps parsed cron expressions and loaded time zones. A pass over
// 10,000 jobs would otherwise parse 10,000 expressions and read the zone
// database 10,000 times (time.LoadLocation does not cache).
type cache struct {
	mu        sync.Mutex
	schedules map[string]parsed
	locations map[string]*time.Location
}

type parsed struct {
	schedule *cron.Schedule
	err      error
}

func newCache() *cache {
	return &cache{schedules: make(map[string]parsed), locations: make(map[string]*time.Location)}
}

// schedule returns the parsed expression, or the parse error.
func (c *cache) schedule(expr string) (*cron.Schedule, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.schedules[expr]
	if !ok {
		if len(c.schedules) >= maxCacheEntries {
			clear(c.schedules)
		}
		p.schedule, p.err = cron.Parse(expr)
		c.schedules[expr] = p
	}
	return p.schedule, p.err
}

// location returns the named zone. Like connecthub.Job.Location, which the
// API uses to compute next_run_at, it falls back to UTC for a name that does
// not load (validation prevents that), so both agree on the slots. The load
// error is returned only when the name is first loaded, so that the caller
// logs it once rather than on every pass.
func (c *cache) location(name string) (*time.Location, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if loc, ok := c.locations[name]; ok {
		return loc, nil
	}
	if len(c.locations) >= maxCacheEntries {
		clear(c.locations)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC
	}
	c.locations[name] = loc
	return loc, err
}
