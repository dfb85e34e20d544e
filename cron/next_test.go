package cron

import (
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the host's zoneinfo
)

// Transition instants used below (tzdata as embedded in Go 1.26):
//
//	America/New_York    2025-03-09T07:00Z 01:59:59 EST -> 03:00 EDT (gap 02:00-02:59)
//	                    2025-11-02T06:00Z 01:59:59 EDT -> 01:00 EST (01:00-01:59 repeats)
//	Europe/London       2025-03-30T01:00Z 00:59:59 GMT -> 02:00 BST (gap 01:00-01:59)
//	                    2025-10-26T01:00Z 01:59:59 BST -> 01:00 GMT (01:00-01:59 repeats)
//	America/Santiago    2025-04-06T03:00Z Sat 23:59:59 -03 -> Sat 23:00 -04 (Sat 23:00-23:59 repeats)
//	                    2025-09-07T04:00Z Sat 23:59:59 -04 -> Sun 01:00 -03 (Sun 00:00-00:59 missing)
//	Australia/Lord_Howe 2025-04-05T15:00Z 01:59:59 +11 -> 01:30 +10:30 (01:30-01:59 repeats)
//	                    2025-10-04T15:30Z 01:59:59 +10:30 -> 02:30 +11 (gap 02:00-02:29)

// mustLoad loads a zone from the embedded tzdata or fails the test.
func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// mustParse parses an expression or fails the test.
func mustParse(t testing.TB, expr string) *Schedule {
	t.Helper()
	s, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return s
}

// mustTime parses an RFC 3339 time or fails the test.
func mustTime(t testing.TB, v string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t.Fatalf("time.Parse(%q): %v", v, err)
	}
	return tm
}

type nextCase struct {
	name  string
	zone  string
	expr  string
	after string
	want  []string // RFC 3339, in order; fewer than requested means the schedule ends
}

// runNextCases checks that NextN (and so repeated Next) from after yields
// exactly want, offsets included.
func runNextCases(t *testing.T, cases []nextCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loc := mustLoad(t, tc.zone)
			s := mustParse(t, tc.expr)
			after := mustTime(t, tc.after)
			got := s.NextN(after, loc, len(tc.want))
			gotStr := make([]string, len(got))
			for i, g := range got {
				gotStr[i] = g.Format(time.RFC3339)
				if g.Location() != loc {
					t.Errorf("result %d is in %v, want %v", i, g.Location(), loc)
				}
			}
			if strings.Join(gotStr, " ") != strings.Join(tc.want, " ") {
				t.Errorf("%q in %s after %s:\n got  %v\n want %v", tc.expr, tc.zone, tc.after, gotStr, tc.want)
			}
		})
	}
}

func TestNextFixedTimeInGap(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{"new york 02:30 fires at 03:00", "America/New_York", "30 2 * * *", "2025-03-08T12:00:00-05:00",
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"}},
		{"new york several gap times collapse", "America/New_York", "15,45 2 * * *", "2025-03-09T00:00:00-05:00",
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:15:00-04:00", "2025-03-10T02:45:00-04:00"}},
		{"new york gap firing and 03:00 coincide", "America/New_York", "0 2,3 * * *", "2025-03-09T00:00:00-05:00",
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00"}},
		{"new york every minute of the 2am hour", "America/New_York", "* 2 * * *", "2025-03-09T01:59:00-05:00",
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00"}},
		{"new york 6-field in gap", "America/New_York", "30 30 2 * * *", "2025-03-09T00:00:00-05:00",
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:30:30-04:00"}},
		{"new york after the gap firing", "America/New_York", "30 2 * * *", "2025-03-09T03:00:00-04:00",
			[]string{"2025-03-10T02:30:00-04:00"}},
		{"london 01:30 fires at 02:00 BST", "Europe/London", "30 1 * * *", "2025-03-29T12:00:00Z",
			[]string{"2025-03-29T01:30:00Z", "2025-03-30T02:00:00+01:00", "2025-03-31T01:30:00+01:00"}[1:]},
		{"santiago midnight does not exist", "America/Santiago", "@midnight", "2025-09-06T12:00:00-04:00",
			[]string{"2025-09-07T01:00:00-03:00", "2025-09-08T00:00:00-03:00"}},
		{"santiago yearly date in gap", "America/Santiago", "30 0 7 9 *", "2025-01-01T00:00:00-03:00",
			[]string{"2025-09-07T01:00:00-03:00", "2026-09-07T00:30:00-03:00"}},
		{"lord howe 02:00 fires at 02:30", "Australia/Lord_Howe", "0 2 * * *", "2025-10-04T12:00:00+10:30",
			[]string{"2025-10-05T02:30:00+11:00", "2025-10-06T02:00:00+11:00"}},
		{"lord howe 02:15 fires at 02:30", "Australia/Lord_Howe", "15 2 * * *", "2025-10-05T00:00:00+10:30",
			[]string{"2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00"}},
		{"lord howe 02:45 exists", "Australia/Lord_Howe", "45 2 * * *", "2025-10-05T00:00:00+10:30",
			[]string{"2025-10-05T02:45:00+11:00"}},
	})
}

func TestNextFixedTimeInRepeat(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{"new york first occurrence only", "America/New_York", "30 1 * * *", "2025-11-01T12:00:00-04:00",
			[]string{"2025-11-01T01:30:00-04:00", "2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"}[1:]},
		{"new york from the first occurrence", "America/New_York", "30 1 * * *", "2025-11-02T01:30:00-04:00",
			[]string{"2025-11-03T01:30:00-05:00"}},
		{"new york from inside the second occurrence", "America/New_York", "45 1 * * *", "2025-11-02T01:00:00-05:00",
			[]string{"2025-11-03T01:45:00-05:00"}},
		{"new york steps within a fixed hour", "America/New_York", "*/20 1 * * *", "2025-11-02T00:00:00-04:00",
			[]string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:20:00-04:00", "2025-11-02T01:40:00-04:00", "2025-11-03T01:00:00-05:00"}},
		{"new york 02:00 is not repeated", "America/New_York", "0 2 * * *", "2025-11-02T00:00:00-04:00",
			[]string{"2025-11-02T02:00:00-05:00", "2025-11-03T02:00:00-05:00"}},
		{"london first occurrence only", "Europe/London", "30 1 * * *", "2025-10-25T12:00:00+01:00",
			[]string{"2025-10-26T01:30:00+01:00", "2025-10-27T01:30:00Z"}},
		{"santiago late evening repeats on saturday", "America/Santiago", "30 23 * * *", "2025-04-05T12:00:00-03:00",
			[]string{"2025-04-05T23:30:00-03:00", "2025-04-06T23:30:00-04:00"}},
		{"lord howe half hour repeat", "Australia/Lord_Howe", "45 1 * * *", "2025-04-05T12:00:00+11:00",
			[]string{"2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30"}},
		{"lord howe 01:15 is not repeated", "Australia/Lord_Howe", "15 1 * * *", "2025-04-05T12:00:00+11:00",
			[]string{"2025-04-06T01:15:00+11:00", "2025-04-07T01:15:00+10:30"}},
		{"daily at 1am list", "America/New_York", "0 1,3 * * *", "2025-11-02T00:00:00-04:00",
			[]string{"2025-11-02T01:00:00-04:00", "2025-11-02T03:00:00-05:00", "2025-11-03T01:00:00-05:00"}},
	})
}

func TestNextFrequentInGap(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{"new york half past each hour", "America/New_York", "30 * * * *", "2025-03-09T00:45:00-05:00",
			[]string{"2025-03-09T01:30:00-05:00", "2025-03-09T03:30:00-04:00", "2025-03-09T04:30:00-04:00"}},
		{"new york hour range", "America/New_York", "*/30 1-3 * * *", "2025-03-09T00:00:00-05:00",
			[]string{"2025-03-09T01:00:00-05:00", "2025-03-09T01:30:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T03:30:00-04:00", "2025-03-10T01:00:00-04:00"}},
		{"new york range covering only the gap", "America/New_York", "0 2-2 9 3 *", "2025-01-01T00:00:00-05:00",
			[]string{"2026-03-09T02:00:00-04:00"}},
		{"new york hourly", "America/New_York", "@hourly", "2025-03-09T00:30:00-05:00",
			[]string{"2025-03-09T01:00:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T04:00:00-04:00"}},
		{"lord howe quarter hours", "Australia/Lord_Howe", "*/15 * * * *", "2025-10-05T01:30:00+10:30",
			[]string{"2025-10-05T01:45:00+10:30", "2025-10-05T02:30:00+11:00", "2025-10-05T02:45:00+11:00"}},
		{"santiago hourly around missing midnight", "America/Santiago", "0 * * * *", "2025-09-06T22:30:00-04:00",
			[]string{"2025-09-06T23:00:00-04:00", "2025-09-07T01:00:00-03:00", "2025-09-07T02:00:00-03:00"}},
	})
}

func TestNextFrequentInRepeat(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{"new york hourly fires in both offsets", "America/New_York", "0 * * * *", "2025-11-02T00:30:00-04:00",
			[]string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T02:00:00-05:00"}},
		{"new york half hours", "America/New_York", "*/30 * * * *", "2025-11-02T00:45:00-04:00",
			[]string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:30:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T01:30:00-05:00", "2025-11-02T02:00:00-05:00"}},
		{"new york from inside the second occurrence", "America/New_York", "0 * * * *", "2025-11-02T01:00:00-05:00",
			[]string{"2025-11-02T02:00:00-05:00"}},
		{"london hour range", "Europe/London", "30 1-2 * * *", "2025-10-26T00:00:00+01:00",
			[]string{"2025-10-26T01:30:00+01:00", "2025-10-26T01:30:00Z", "2025-10-26T02:30:00Z"}},
		{"santiago repeated late evening", "America/Santiago", "30 * * * *", "2025-04-05T22:00:00-03:00",
			[]string{"2025-04-05T22:30:00-03:00", "2025-04-05T23:30:00-03:00", "2025-04-05T23:30:00-04:00", "2025-04-06T00:30:00-04:00"}},
		{"lord howe half hour repeat", "Australia/Lord_Howe", "*/15 * * * *", "2025-04-06T01:20:00+11:00",
			[]string{"2025-04-06T01:30:00+11:00", "2025-04-06T01:45:00+11:00", "2025-04-06T01:30:00+10:30", "2025-04-06T01:45:00+10:30", "2025-04-06T02:00:00+10:30"}},
	})
}

func TestNextEverySecondAcrossTransitions(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{"new york spring forward", "America/New_York", "* * * * * *", "2025-03-09T01:59:58-05:00",
			[]string{"2025-03-09T01:59:59-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T03:00:01-04:00"}},
		{"new york fall back", "America/New_York", "* * * * * *", "2025-11-02T01:59:58-04:00",
			[]string{"2025-11-02T01:59:59-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T01:00:01-05:00"}},
		{"lord howe spring forward", "Australia/Lord_Howe", "*/20 * * * * *", "2025-10-05T01:59:30+10:30",
			[]string{"2025-10-05T01:59:40+10:30", "2025-10-05T02:30:00+11:00", "2025-10-05T02:30:20+11:00"}},
		{"santiago fall back", "America/Santiago", "0 * * * * *", "2025-04-05T23:58:30-03:00",
			[]string{"2025-04-05T23:59:00-03:00", "2025-04-05T23:00:00-04:00", "2025-04-05T23:01:00-04:00"}},
	})
}

func TestNextEvery(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{"hourly slots across spring forward", "America/New_York", "@every 1h", "2025-03-09T01:30:00-05:00",
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-09T04:00:00-04:00"}},
		{"hourly slots across fall back", "America/New_York", "@every 1h", "2025-11-02T00:30:00-04:00",
			[]string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T02:00:00-05:00"}},
		{"hourly slots on a half-hour offset", "Australia/Lord_Howe", "@every 1h", "2025-10-05T00:00:00+10:30",
			[]string{"2025-10-05T00:30:00+10:30", "2025-10-05T01:30:00+10:30", "2025-10-05T03:00:00+11:00"}},
		// 90 minutes = 5400 s; 2025-03-09T06:00:00Z is slot 322500.
		{"ninety minutes aligned to the epoch", "America/New_York", "@every 90m", "2025-03-09T01:00:00-05:00",
			[]string{"2025-03-09T03:30:00-04:00", "2025-03-09T05:00:00-04:00", "2025-03-09T06:30:00-04:00"}},
		{"seconds", "UTC", "@every 7s", "1970-01-01T00:00:00Z",
			[]string{"1970-01-01T00:00:07Z", "1970-01-01T00:00:14Z"}},
		{"before the epoch", "UTC", "@every 1m", "1969-12-31T23:58:30Z",
			[]string{"1969-12-31T23:59:00Z", "1970-01-01T00:00:00Z"}},
		{"upper bound", "UTC", "@every 24h", "9999-12-30T12:00:00Z",
			[]string{"9999-12-31T00:00:00Z"}},
	})
}

func TestNextCalendar(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{"last day", "UTC", "0 0 L * *", "2024-01-15T00:00:00Z",
			[]string{"2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"}},
		{"last day minus two", "UTC", "0 0 L-2 * *", "2025-01-01T00:00:00Z",
			[]string{"2025-01-29T00:00:00Z", "2025-02-26T00:00:00Z", "2025-03-29T00:00:00Z"}},
		{"last day in February", "UTC", "0 0 l 2 ?", "2027-01-01T00:00:00Z",
			[]string{"2027-02-28T00:00:00Z", "2028-02-29T00:00:00Z"}},
		{"nearest weekday to the 15th", "UTC", "0 0 15W * *", "2025-03-01T00:00:00Z",
			[]string{"2025-03-14T00:00:00Z", "2025-04-15T00:00:00Z", "2025-05-15T00:00:00Z", "2025-06-16T00:00:00Z"}},
		{"nearest weekday to the 1st stays in the month", "UTC", "0 0 1W * *", "2025-02-15T00:00:00Z",
			[]string{"2025-03-03T00:00:00Z", "2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z", "2025-06-02T00:00:00Z"}},
		{"nearest weekday to the 31st stays in the month", "UTC", "0 0 31W * *", "2025-08-01T00:00:00Z",
			[]string{"2025-08-29T00:00:00Z", "2025-10-31T00:00:00Z", "2025-12-31T00:00:00Z"}},
		{"last weekday", "UTC", "0 0 LW * *", "2025-05-01T00:00:00Z",
			[]string{"2025-05-30T00:00:00Z", "2025-06-30T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-29T00:00:00Z"}},
		{"last friday", "UTC", "0 0 * * 5L", "2025-01-01T00:00:00Z",
			[]string{"2025-01-31T00:00:00Z", "2025-02-28T00:00:00Z", "2025-03-28T00:00:00Z"}},
		{"last sunday written as 7", "UTC", "0 0 ? * 7L", "2025-01-01T00:00:00Z",
			[]string{"2025-01-26T00:00:00Z", "2025-02-23T00:00:00Z", "2025-03-30T00:00:00Z"}},
		{"second monday", "UTC", "0 0 * * 1#2", "2025-01-01T00:00:00Z",
			[]string{"2025-01-13T00:00:00Z", "2025-02-10T00:00:00Z", "2025-03-10T00:00:00Z"}},
		{"second monday by name", "UTC", "0 0 * * mon#2", "2025-01-01T00:00:00Z",
			[]string{"2025-01-13T00:00:00Z", "2025-02-10T00:00:00Z", "2025-03-10T00:00:00Z"}},
		{"fifth monday skips months", "UTC", "0 0 * * 1#5", "2025-01-01T00:00:00Z",
			[]string{"2025-03-31T00:00:00Z", "2025-06-30T00:00:00Z", "2025-09-29T00:00:00Z"}},
		{"dom or dow when both restricted", "UTC", "0 0 13 * FRI", "2025-06-01T00:00:00Z",
			[]string{"2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z", "2025-06-20T00:00:00Z", "2025-06-27T00:00:00Z",
				"2025-07-04T00:00:00Z", "2025-07-11T00:00:00Z", "2025-07-13T00:00:00Z", "2025-07-18T00:00:00Z"}},
		{"dom only when dow is ?", "UTC", "0 0 13 * ?", "2025-06-01T00:00:00Z",
			[]string{"2025-06-13T00:00:00Z", "2025-07-13T00:00:00Z"}},
		{"dow only when dom is *", "UTC", "0 0 * * FRI", "2025-06-01T00:00:00Z",
			[]string{"2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z"}},
		{"dom starting with * combines with AND as in cronie", "UTC", "0 0 */10 * MON", "2025-06-01T00:00:00Z",
			[]string{"2025-07-21T00:00:00Z", "2025-08-11T00:00:00Z", "2025-09-01T00:00:00Z"}},
		{"L or a weekday", "UTC", "0 0 L * 1#1", "2025-05-01T00:00:00Z",
			[]string{"2025-05-05T00:00:00Z", "2025-05-31T00:00:00Z", "2025-06-02T00:00:00Z", "2025-06-30T00:00:00Z"}},
		{"7 is sunday", "UTC", "0 0 * * 7", "2025-06-01T00:00:00Z",
			[]string{"2025-06-08T00:00:00Z", "2025-06-15T00:00:00Z"}},
		{"0 is sunday", "UTC", "0 0 * * 0", "2025-06-01T00:00:00Z",
			[]string{"2025-06-08T00:00:00Z", "2025-06-15T00:00:00Z"}},
		{"range ending at 7", "UTC", "0 0 * * 5-7", "2025-06-01T12:00:00Z",
			[]string{"2025-06-06T00:00:00Z", "2025-06-07T00:00:00Z", "2025-06-08T00:00:00Z", "2025-06-13T00:00:00Z"}},
		{"range ending at SUN", "UTC", "0 0 * * FRI-SUN", "2025-06-01T12:00:00Z",
			[]string{"2025-06-06T00:00:00Z", "2025-06-07T00:00:00Z", "2025-06-08T00:00:00Z", "2025-06-13T00:00:00Z"}},
		{"feb 29 leap years", "UTC", "0 0 29 2 *", "2025-01-01T00:00:00Z",
			[]string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"feb 29 skips 2100", "America/New_York", "0 0 29 2 *", "2096-03-01T00:00:00-05:00",
			[]string{"2104-02-29T00:00:00-05:00"}},
		{"feb 29 on a monday or any february monday", "UTC", "0 12 29 2 MON", "2027-02-20T00:00:00Z",
			[]string{"2027-02-22T12:00:00Z", "2028-02-07T12:00:00Z", "2028-02-14T12:00:00Z", "2028-02-21T12:00:00Z", "2028-02-28T12:00:00Z", "2028-02-29T12:00:00Z"}},
		{"fifth monday of february", "UTC", "0 0 ? FEB MON#5", "2017-01-01T00:00:00Z",
			[]string{"2044-02-29T00:00:00Z"}},
		{"shanghai weekdays", "Asia/Shanghai", "0 9 * * MON-FRI", "2025-06-06T10:00:00+08:00",
			[]string{"2025-06-09T09:00:00+08:00", "2025-06-10T09:00:00+08:00"}},
		{"yearly", "Asia/Shanghai", "@yearly", "2025-06-06T10:00:00+08:00",
			[]string{"2026-01-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00"}},
		{"monthly", "UTC", "@monthly", "2025-01-31T10:00:00Z",
			[]string{"2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"}},
		{"weekly", "UTC", "@weekly", "2025-06-01T00:00:00Z",
			[]string{"2025-06-08T00:00:00Z"}},
		{"month names and steps", "UTC", "0 0 1 jan-dec/3 *", "2025-01-01T00:00:00Z",
			[]string{"2025-04-01T00:00:00Z", "2025-07-01T00:00:00Z", "2025-10-01T00:00:00Z", "2026-01-01T00:00:00Z"}},
		{"a/n runs to the maximum", "UTC", "50/5 23 31 12 *", "2025-01-01T00:00:00Z",
			[]string{"2025-12-31T23:50:00Z", "2025-12-31T23:55:00Z", "2026-12-31T23:50:00Z"}},
		{"year 9999 is the last", "UTC", "0 0 1 1 *", "9998-06-01T00:00:00Z",
			[]string{"9999-01-01T00:00:00Z"}},
		{"first slot after the zero time", "UTC", "0 0 1 1 *", "0001-01-01T00:00:00Z",
			[]string{"0002-01-01T00:00:00Z"}},
	})
}

func TestNextNoMatchReturnsZeroQuickly(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	for _, expr := range []string{
		"0 0 30 2 *",
		"0 0 31 4,6,9,11 *",
		"0 0 L-30 2 *",
		"0 0 30W 2 ?",
		"0 0 31 2 MON#5", // OR: Feb 31 or the fifth Monday of a February
	} {
		s := mustParse(t, expr)
		if expr == "0 0 31 2 MON#5" {
			// This one does match (Feb 29 on a Monday), so it must not be
			// mistaken for a never-matching expression.
			if got := s.Next(mustTime(t, "2017-01-01T00:00:00Z"), time.UTC); got.Format(time.RFC3339) != "2044-02-29T00:00:00Z" {
				t.Errorf("%q: got %v, want 2044-02-29T00:00:00Z", expr, got)
			}
			continue
		}
		start := time.Now()
		for range 1000 {
			if got := s.Next(mustTime(t, "2025-01-01T00:00:00Z"), ny); !got.IsZero() {
				t.Fatalf("%q: got %v, want the zero time", expr, got)
			}
		}
		// 1000 calls take microseconds; a scan over the horizon would take
		// far longer than this very loose bound, even under -race.
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("%q: 1000 calls took %v", expr, el)
		}
		if got := s.NextN(time.Time{}, ny, 3); got != nil {
			t.Errorf("%q: NextN = %v, want nil", expr, got)
		}
	}
}

func TestNextHorizon(t *testing.T) {
	t.Parallel()
	// Frequent (a range in the hour field), and its only wall-clock match
	// in New York is the 02:00 that the spring-forward gap removes: no slot
	// exists for as long as the US rule holds, so Next gives up at the
	// horizon instead of searching forever.
	s := mustParse(t, "0 2-2 ? 3 SUN#2")
	ny := mustLoad(t, "America/New_York")
	if got := s.Next(mustTime(t, "2025-01-01T00:00:00Z"), ny); !got.IsZero() {
		t.Errorf("got %v, want the zero time", got)
	}
	// In UTC the same expression fires normally.
	if got := s.Next(mustTime(t, "2025-01-01T00:00:00Z"), nil); got.Format(time.RFC3339) != "2025-03-09T02:00:00Z" {
		t.Errorf("UTC: got %v, want 2025-03-09T02:00:00Z", got)
	}
	// Nothing is returned at or beyond the year 10000.
	y := mustParse(t, "@yearly")
	every := mustParse(t, "@every 1s")
	for _, a := range []time.Time{
		time.Date(9999, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got := y.Next(a, time.UTC); !got.IsZero() {
			t.Errorf("after %v: got %v, want the zero time", a, got)
		}
		if a.Month() != 12 && a.Year() == 9999 {
			continue // @every 1s still has slots in the rest of 9999
		}
		if got := every.Next(a, time.UTC); !got.IsZero() {
			t.Errorf("after %v: got %v, want the zero time", a, got)
		}
	}
}

func TestNextStrictlyAfter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr, after, want string
	}{
		{"* * * * * *", "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z"},
		{"* * * * * *", "2025-01-01T00:00:00.5Z", "2025-01-01T00:00:01Z"},
		{"* * * * * *", "2024-12-31T23:59:59.999999999Z", "2025-01-01T00:00:00Z"},
		{"0 * * * *", "2025-01-01T00:00:00.000000001Z", "2025-01-01T01:00:00Z"},
		{"0 * * * *", "2025-01-01T00:59:59.999Z", "2025-01-01T01:00:00Z"},
		{"@every 10s", "2025-01-01T00:00:10Z", "2025-01-01T00:00:20Z"},
		{"@every 10s", "2025-01-01T00:00:09.9Z", "2025-01-01T00:00:10Z"},
		{"@every 10s", "1969-12-31T23:59:59.5Z", "1970-01-01T00:00:00Z"},
	}
	for _, tc := range cases {
		s := mustParse(t, tc.expr)
		got := s.Next(mustTime(t, tc.after), nil)
		if got.Format(time.RFC3339Nano) != tc.want {
			t.Errorf("%q after %s: got %s, want %s", tc.expr, tc.after, got.Format(time.RFC3339Nano), tc.want)
		}
		if got.Location() != time.UTC {
			t.Errorf("nil location gave %v, want UTC", got.Location())
		}
	}
}

func TestNextZeroAndNilSchedules(t *testing.T) {
	t.Parallel()
	var nilSched *Schedule
	now := mustTime(t, "2025-01-01T00:00:00Z")
	if got := nilSched.Next(now, nil); !got.IsZero() {
		t.Errorf("nil schedule: Next = %v", got)
	}
	if got := nilSched.NextN(now, nil, 3); got != nil {
		t.Errorf("nil schedule: NextN = %v", got)
	}
	if nilSched.String() != "" || nilSched.HasSeconds() {
		t.Errorf("nil schedule: String/HasSeconds should be empty/false")
	}
	if got := (&Schedule{}).Next(now, nil); !got.IsZero() {
		t.Errorf("zero schedule: Next = %v", got)
	}
	s := mustParse(t, "@hourly")
	for _, n := range []int{0, -1} {
		if got := s.NextN(now, nil, n); got != nil {
			t.Errorf("NextN(n=%d) = %v, want nil", n, got)
		}
	}
}

func TestNextConcurrent(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "*/5 * * * *")
	loc := mustLoad(t, "Europe/London")
	after := mustTime(t, "2025-10-26T00:52:00+01:00")
	want := s.NextN(after, loc, 20)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got := s.NextN(after, loc, 20)
			for i := range want {
				if !got[i].Equal(want[i]) {
					t.Errorf("concurrent NextN differs at %d: %v vs %v", i, got[i], want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}
