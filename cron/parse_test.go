package cron

import (
	"errors"
	"math/bits"
	"slices"
	"testing"
)

// setBits lists the values in a field mask, for readable comparisons.
func setBits(m uint64) []int {
	var out []int
	for ; m != 0; m &= m - 1 {
		out = append(out, bits.TrailingZeros64(m))
	}
	return out
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr                                   string
		sec, min, hour, dom, month, dow        []int
		hasSeconds, frequent, domStar, dowStar bool
	}{
		{expr: "* * * * *", sec: []int{0}, min: seq(0, 59, 1), hour: seq(0, 23, 1), dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: seq(0, 6, 1),
			frequent: true, domStar: true, dowStar: true},
		{expr: "5 4 3 2 1", sec: []int{0}, min: []int{5}, hour: []int{4}, dom: []int{3}, month: []int{2}, dow: []int{1}},
		{expr: "*/15 1,13 1-10/3 JAN,jun-Aug 7", sec: []int{0}, min: []int{0, 15, 30, 45}, hour: []int{1, 13},
			dom: []int{1, 4, 7, 10}, month: []int{1, 6, 7, 8}, dow: []int{0}},
		{expr: "30/10 * * * * *", sec: []int{30, 40, 50}, min: seq(0, 59, 1), hour: seq(0, 23, 1), dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: seq(0, 6, 1),
			hasSeconds: true, frequent: true, domStar: true, dowStar: true},
		{expr: "0 0 9-17 ? * MON-FRI", sec: []int{0}, min: []int{0}, hour: seq(9, 17, 1), dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: seq(1, 5, 1),
			hasSeconds: true, frequent: true, domStar: true},
		{expr: "0 0 * * 0-7", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: seq(0, 6, 1), domStar: true},
		{expr: "0 0 * * sat-sun", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: []int{0, 6}, domStar: true},
		{expr: "0 0 * * */2", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: []int{0, 2, 4, 6}, domStar: true, dowStar: true},
		{expr: "0 0 * * 1-7/2", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: []int{0, 1, 3, 5}, domStar: true},
		{expr: "0 0 * * 7/3", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: []int{0}, domStar: true},
		{expr: "0 0 * * 5/1", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: []int{5, 6}, domStar: true},
		{expr: "0 0 1,*/10 * ?", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: []int{1, 11, 21, 31}, month: seq(1, 12, 1), dow: seq(0, 6, 1), dowStar: true},
		{expr: "*/60 */24 */31 */12 */7", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: []int{1}, month: []int{1}, dow: []int{0},
			frequent: true, domStar: true, dowStar: true},
		{expr: "0 2-2 * * *", sec: []int{0}, min: []int{0}, hour: []int{2}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: seq(0, 6, 1),
			frequent: true, domStar: true, dowStar: true},
		{expr: "0 1/6 * * *", sec: []int{0}, min: []int{0}, hour: []int{1, 7, 13, 19}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: seq(0, 6, 1),
			frequent: true, domStar: true, dowStar: true},
		{expr: "007 08 09 010 06", sec: []int{0}, min: []int{7}, hour: []int{8}, dom: []int{9}, month: []int{10}, dow: []int{6}},
		{expr: " \t0 0 1 1 *\n", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: []int{1}, month: []int{1}, dow: seq(0, 6, 1), dowStar: true},
		{expr: "@DAILY", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: seq(0, 6, 1), domStar: true, dowStar: true},
		{expr: "@hourly", sec: []int{0}, min: []int{0}, hour: seq(0, 23, 1), dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: seq(0, 6, 1),
			frequent: true, domStar: true, dowStar: true},
		{expr: "@weekly", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: seq(1, 31, 1), month: seq(1, 12, 1), dow: []int{0}, domStar: true},
		{expr: "@annually", sec: []int{0}, min: []int{0}, hour: []int{0}, dom: []int{1}, month: []int{1}, dow: seq(0, 6, 1), dowStar: true},
	}
	for _, tc := range cases {
		s, err := Parse(tc.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		check := func(name string, got uint64, want []int) {
			if g := setBits(got); !slices.Equal(g, want) {
				t.Errorf("%q %s = %v, want %v", tc.expr, name, g, want)
			}
		}
		check("seconds", s.seconds, tc.sec)
		check("minutes", s.minutes, tc.min)
		check("hours", uint64(s.hours), tc.hour)
		check("dom", uint64(s.dom), tc.dom)
		check("months", uint64(s.months), tc.month)
		check("dow", uint64(s.dow), tc.dow)
		if s.HasSeconds() != tc.hasSeconds || s.frequent != tc.frequent || s.domStar != tc.domStar || s.dowStar != tc.dowStar {
			t.Errorf("%q: hasSeconds=%v frequent=%v domStar=%v dowStar=%v, want %v %v %v %v", tc.expr,
				s.HasSeconds(), s.frequent, s.domStar, s.dowStar, tc.hasSeconds, tc.frequent, tc.domStar, tc.dowStar)
		}
		if s.String() != tc.expr {
			t.Errorf("String() = %q, want the original %q", s.String(), tc.expr)
		}
	}
}

func seq(from, to, step int) []int {
	var out []int
	for v := from; v <= to; v += step {
		out = append(out, v)
	}
	return out
}

func TestParseSpecialDays(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "0 0 L,L-3,15W,lw,1 * 5L,mon#2,SUN#5,7#1")
	if got, want := setBits(uint64(s.domLast)), []int{0, 3}; !slices.Equal(got, want) {
		t.Errorf("domLast = %v, want %v", got, want)
	}
	if got, want := setBits(uint64(s.domNearest)), []int{15}; !slices.Equal(got, want) {
		t.Errorf("domNearest = %v, want %v", got, want)
	}
	if !s.domLastWeekday || s.domStar || s.dowStar {
		t.Errorf("domLastWeekday=%v domStar=%v dowStar=%v", s.domLastWeekday, s.domStar, s.dowStar)
	}
	if got, want := setBits(uint64(s.dom)), []int{1}; !slices.Equal(got, want) {
		t.Errorf("dom = %v, want %v", got, want)
	}
	if got, want := setBits(uint64(s.dowLast)), []int{5}; !slices.Equal(got, want) {
		t.Errorf("dowLast = %v, want %v", got, want)
	}
	if got, want := s.dowNth, [7]uint8{0: 1<<5 | 1<<1, 1: 1 << 2}; got != want {
		t.Errorf("dowNth = %v, want %v", got, want)
	}
}

func TestParseEvery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr       string
		every      int64
		hasSeconds bool
	}{
		{"@every 1s", 1, true},
		{"@every 90s", 90, true},
		{"@every 5m", 300, false},
		{"@every 1h30m", 5400, false},
		{"@EVERY   2h", 7200, false},
		{"@every 1m0.000s", 60, false},
	}
	for _, tc := range cases {
		s := mustParse(t, tc.expr)
		if s.every != tc.every || s.HasSeconds() != tc.hasSeconds {
			t.Errorf("%q: every=%d hasSeconds=%v, want %d %v", tc.expr, s.every, s.HasSeconds(), tc.every, tc.hasSeconds)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr, field, msg string
	}{
		{"", "", `cron expression "": empty expression`},
		{"   ", "", `cron expression "   ": empty expression`},
		{"* * * *", "", `cron expression "* * * *": expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with leading seconds), got 4`},
		{"* * * * * * *", "", `cron expression "* * * * * * *": expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with leading seconds), got 7`},
		{"@fortnightly", "", `cron expression "@fortnightly": unknown descriptor "@fortnightly" (want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>)`},
		{"@daily 5", "", `cron expression "@daily 5": @daily takes no arguments`},
		{"@", "", `cron expression "@": unknown descriptor "@" (want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>)`},
		{"@every", "@every", `@every: want exactly one duration, e.g. @every 5m`},
		{"@every 5m 1s", "@every", `@every: want exactly one duration, e.g. @every 5m`},
		{"@every soon", "@every", `@every: invalid duration "soon"`},
		{"@every 0s", "@every", `@every: duration 0s is below the minimum of 1s`},
		{"@every -5m", "@every", `@every: duration -5m0s is below the minimum of 1s`},
		{"@every 500ms", "@every", `@every: duration 500ms is below the minimum of 1s`},
		{"@every 1.5s", "@every", `@every: duration 1.5s is not a whole number of seconds`},
		{"61 * * * *", "minute", `minute field "61": value 61 out of range 0-59`},
		{"60 * * * * *", "second", `second field "60": value 60 out of range 0-59`},
		{"0 24 * * *", "hour", `hour field "24": value 24 out of range 0-23`},
		{"0 0 0 * *", "day-of-month", `day-of-month field "0": value 0 out of range 1-31`},
		{"0 0 32 * *", "day-of-month", `day-of-month field "32": value 32 out of range 1-31`},
		{"0 0 * 13 *", "month", `month field "13": value 13 out of range 1-12`},
		{"0 0 * 0 *", "month", `month field "0": value 0 out of range 1-12`},
		{"0 0 * * 8", "day-of-week", `day-of-week field "8": value 8 out of range 0-7`},
		{"99999999999999999999 * * * *", "minute", `minute field "99999999999999999999": value 99999999999999999999 out of range 0-59`},
		{"*/0 * * * *", "minute", `minute field "*/0": step 0 out of range 1-60`},
		{"*/61 * * * *", "minute", `minute field "*/61": step 61 out of range 1-60`},
		{"0 0 * * */8", "day-of-week", `day-of-week field "*/8": step 8 out of range 1-7`},
		{"*/ * * * *", "minute", `minute field "*/": invalid step ""`},
		{"*/x * * * *", "minute", `minute field "*/x": invalid step "x"`},
		{"1/2/3 * * * *", "minute", `minute field "1/2/3": invalid step "2/3"`},
		{"/5 * * * *", "minute", `minute field "/5": invalid item "/5"`},
		{"-5 * * * *", "minute", `minute field "-5": invalid item "-5"`},
		{"5- * * * *", "minute", `minute field "5-": invalid item "5-"`},
		{"1-2-3 * * * *", "minute", `minute field "1-2-3": invalid value "2-3"`},
		{"+5 * * * *", "minute", `minute field "+5": invalid value "+5"`},
		{"5x * * * *", "minute", `minute field "5x": invalid value "5x"`},
		{"1,,2 * * * *", "minute", `minute field "1,,2": empty item in list`},
		{"1, * * * *", "minute", `minute field "1,": empty item in list`},
		{"** * * * *", "minute", `minute field "**": invalid value "**"`},
		{"0 22-2 * * *", "hour", `hour field "22-2": range 22-2 is reversed (start after end); wrap-around is not supported, use a list such as 22-23,0-2`},
		{"0 0 * dec-jan *", "month", `month field "dec-jan": range dec-jan is reversed (start after end); wrap-around is not supported, use a list such as 12,1`},
		{"0 0 * * 5-0", "day-of-week", `day-of-week field "5-0": range 5-0 is reversed (start after end); wrap-around is not supported, use a list such as 5-7`},
		{"0 0 * * SAT-MON", "day-of-week", `day-of-week field "SAT-MON": range SAT-MON is reversed (start after end); wrap-around is not supported, use a list such as 6-7,1`},
		{"0 0 * JANUARY *", "month", `month field "JANUARY": unknown name "JANUARY" (want JAN-DEC or a number)`},
		{"0 0 * * MONDAY", "day-of-week", `day-of-week field "MONDAY": unknown name "MONDAY" (want SUN-SAT or a number)`},
		{"0 MON * * *", "hour", `hour field "MON": invalid value "MON"`},
		{"0 0 JAN * *", "day-of-month", `day-of-month field "JAN": invalid value "JAN"`},
		{"0 0 JUL * *", "day-of-month", `day-of-month field "JUL": invalid item "JUL" (L and W are used as L, L-n, nW or LW)`},
		{"? * * * *", "minute", `minute field "?": "?" is only allowed in day-of-month and day-of-week`},
		{"0 0 ?,1 * *", "day-of-month", `day-of-month field "?,1": "?" must be the whole field`},
		{"0 0 ?/2 * *", "day-of-month", `day-of-month field "?/2": "?" must be the whole field`},
		{"0 0 * * L", "day-of-week", `day-of-week field "L": "L" in day-of-week needs a weekday, e.g. 5L for the last Friday`},
		{"0 0 * * 8L", "day-of-week", `day-of-week field "8L": in "8L": value 8 out of range 0-7`},
		{"0 0 * * 1#6", "day-of-week", `day-of-week field "1#6": occurrence 6 in "1#6" out of range 1-5`},
		{"0 0 * * 1#0", "day-of-week", `day-of-week field "1#0": occurrence 0 in "1#0" out of range 1-5`},
		{"0 0 * * 1#", "day-of-week", `day-of-week field "1#": invalid occurrence in "1#" (want n#k with k in 1-5)`},
		{"0 0 * * #2", "day-of-week", `day-of-week field "#2": in "#2": missing value`},
		{"0 0 * * FUN#2", "day-of-week", `day-of-week field "FUN#2": in "FUN#2": unknown name "FUN" (want SUN-SAT or a number)`},
		{"0 0 L-31 * *", "day-of-month", `day-of-month field "L-31": offset 31 in "L-31" out of range 0-30`},
		{"0 0 L- * *", "day-of-month", `day-of-month field "L-": invalid offset in "L-" (want L-n with n in 0-30)`},
		{"0 0 L-x * *", "day-of-month", `day-of-month field "L-x": invalid offset in "L-x" (want L-n with n in 0-30)`},
		{"0 0 32W * *", "day-of-month", `day-of-month field "32W": in "32W": value 32 out of range 1-31 (want nW with n in 1-31, or LW)`},
		{"0 0 W * *", "day-of-month", `day-of-month field "W": in "W": missing value (want nW with n in 1-31, or LW)`},
		{"0 0 L/2 * *", "day-of-month", `day-of-month field "L/2": invalid item "L/2" (L and W are used as L, L-n, nW or LW)`},
		{"0 0 1-15W * *", "day-of-month", `day-of-month field "1-15W": in "1-15W": invalid value "1-15" (want nW with n in 1-31, or LW)`},
		{"0 L * * *", "hour", `hour field "L": invalid value "L"`},
		{"0 0 * * 1 junk", "day-of-week", `day-of-week field "junk": unknown name "junk" (want SUN-SAT or a number)`},
		{"0 0 * * ١", "day-of-week", `day-of-week field "١": unknown name "١" (want SUN-SAT or a number)`},
	}
	for _, tc := range cases {
		s, err := Parse(tc.expr)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", tc.expr, s)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) error %T is not a *ParseError", tc.expr, err)
			continue
		}
		if pe.Expr != tc.expr || pe.Field != tc.field {
			t.Errorf("Parse(%q): Expr=%q Field=%q, want %q %q", tc.expr, pe.Expr, pe.Field, tc.expr, tc.field)
		}
		if err.Error() != tc.msg {
			t.Errorf("Parse(%q):\n got  %s\n want %s", tc.expr, err, tc.msg)
		}
	}
}
