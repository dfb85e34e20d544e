// Package cron parses cron expressions and computes their fire times in a
// time zone, with the daylight-saving behaviour cron users expect from
// cronie/ISC cron.
//
// # Syntax
//
// An expression has 5 fields (minute hour day-of-month month day-of-week) or
// 6 fields (a leading seconds field, then the same five). Each field accepts
//
//   - "*" (every value) and, in day-of-month and day-of-week only, "?" (same as "*");
//   - single values, lists "a,b", ranges "a-b" and steps "*/n", "a-b/n" and
//     "a/n" (from a to the field's maximum, every n);
//   - month names JAN-DEC and day names SUN-SAT, case-insensitive;
//   - day-of-week 0-7, where both 0 and 7 mean Sunday. A range ending in the
//     name SUN ("FRI-SUN") ends on Sunday; numerically reversed ranges such as
//     "22-2" are rejected rather than wrapped, because silently wrapping hides
//     typos;
//   - in day-of-month: "L" (last day), "L-n" (n days before the last day),
//     "nW" (the weekday nearest day n, never crossing into another month) and
//     "LW" (the last weekday of the month);
//   - in day-of-week: "nL" (the last weekday n of the month, e.g. "5L" is the
//     last Friday) and "n#k" (the k-th weekday n, e.g. "1#2" or "MON#2" is the
//     second Monday).
//
// The descriptors @yearly (@annually), @monthly, @weekly, @daily (@midnight)
// and @hourly stand for "0 0 1 1 *", "0 0 1 * *", "0 0 * * 0", "0 0 * * *"
// and "0 * * * *". "@every <duration>" takes a Go duration of at least one
// second that is a whole number of seconds.
//
// Day matching follows Vixie cron and cronie: when both day-of-month and
// day-of-week are restricted, a day matches if EITHER matches; when one of
// them is unrestricted, the other alone decides. As in cronie, a field counts
// as unrestricted when its text starts with "*" (so "*/2" is unrestricted for
// this purpose) or is "?".
//
// # Daylight saving time
//
// Fire times are computed on the wall clock of the location passed to
// [Schedule.Next]. Where daylight saving makes a wall-clock time occur zero
// or two times, the expression's kind decides what happens:
//
//   - A fixed-time expression (the hour field is a single hour or a list of
//     single hours, and the descriptors @daily, @weekly, @monthly, @yearly)
//     names a time of day that the user expects once. A time that falls into
//     a spring-forward gap fires once, at the first instant after the gap
//     (in New York, 02:30 on the spring-forward day fires at 03:00 EDT, and
//     several gap times such as 02:15 and 02:45 collapse into that single
//     firing). A time that a fall-back repeats fires once, at its first
//     (daylight-saving) occurrence.
//   - A frequent expression (the hour field is "*", a range or a step, and
//     @hourly) fires at every real instant whose local wall clock matches,
//     in either offset: "0 * * * *" fires at 01:00 EDT and again at 01:00 EST
//     on the fall-back day, and simply has no slots inside a gap.
//
// # @every alignment
//
// "@every d" fires at the instants that are exact multiples of d since the
// Unix epoch (1970-01-01T00:00:00Z), independent of the location and of when
// the schedule was created. Two servers therefore compute the same slots, so
// a slot can be claimed exactly once by a unique key on its time. Because the
// slots are real instants, daylight saving never adds or removes any.
//
// # Guarantees
//
// Parse accepts expressions that can never fire, such as "0 0 30 2 *"
// (February 30th), because they are well-formed; it detects them once (the
// calendar repeats every 400 years) so that Next returns the zero time for
// them at once.
//
// [Schedule.Next] always returns an instant strictly after its argument, or
// the zero time when there is none within a bounded horizon (100 years, and
// never beyond the year 9999). Repeatedly calling Next from its own result
// enumerates the schedule without duplicates or skipped slots. Next skips
// whole months, days, hours and minutes that cannot match, so it costs
// microseconds rather than scanning minute by minute. A Schedule is immutable
// and safe for concurrent use.
package cron
