package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseError reports why an expression was rejected. Field names the
// offending field ("second", "minute", "hour", "day-of-month", "month",
// "day-of-week", or "@every" for a descriptor's argument) and is empty when
// the problem concerns the expression as a whole (empty, wrong field count,
// unknown descriptor). Msg says what is wrong, without repeating the field.
type ParseError struct {
	Expr  string // the expression as given to Parse
	Field string // the field at fault, or "" for the whole expression
	Msg   string // what is wrong
}

// Error renders the problem for an API user, naming the field and quoting
// its text, for example `minute field "61": value 61 out of range 0-59`.
func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("cron expression %q: %s", e.Expr, e.Msg)
	}
	if text, ok := fieldText(e.Expr, e.Field); ok {
		return fmt.Sprintf("%s field %q: %s", e.Field, text, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Msg)
}

// fieldText finds the text of the named positional field in expr, so that
// ParseError can quote it without storing it separately.
func fieldText(expr, name string) (string, bool) {
	parts := strings.Fields(expr)
	specs := fieldSpecs[:]
	switch len(parts) {
	case 6:
	case 5:
		specs = specs[1:]
	default:
		return "", false
	}
	for i, sp := range specs {
		if sp.name == name {
			return parts[i], true
		}
	}
	return "", false
}

// fieldSpec describes one positional field of an expression.
type fieldSpec struct {
	name     string
	min, max int
	names    []string // names[i] is the name of value min+i, or nil
}

const (
	fSecond = iota
	fMinute
	fHour
	fDom
	fMonth
	fDow
)

var fieldSpecs = [...]fieldSpec{
	fSecond: {name: "second", min: 0, max: 59},
	fMinute: {name: "minute", min: 0, max: 59},
	fHour:   {name: "hour", min: 0, max: 23},
	fDom:    {name: "day-of-month", min: 1, max: 31},
	fMonth: {name: "month", min: 1, max: 12, names: []string{
		"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	// 7 is accepted as a second spelling of Sunday and folded onto 0.
	fDow: {name: "day-of-week", min: 0, max: 7, names: []string{
		"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}

// descriptors maps the @-shorthands to the 5-field expressions they stand for.
var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Parse parses a 5-field, 6-field or descriptor cron expression (see the
// package documentation for the syntax). Every error is a *ParseError.
func Parse(expr string) (*Schedule, error) {
	trimmed := strings.TrimSpace(expr)
	if trimmed == "" {
		return nil, &ParseError{Expr: expr, Msg: "empty expression"}
	}
	if strings.HasPrefix(trimmed, "@") {
		return parseDescriptor(expr, trimmed)
	}
	parts := strings.Fields(trimmed)
	s := &Schedule{expr: expr}
	switch len(parts) {
	case 6:
		s.hasSeconds = true
	case 5:
		parts = append([]string{"0"}, parts...)
	default:
		return nil, &ParseError{Expr: expr, Msg: fmt.Sprintf(
			"expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with leading seconds), got %d",
			len(parts))}
	}
	if err := s.parseFields(parts); err != nil {
		err.Expr = expr
		return nil, err
	}
	s.finish()
	return s, nil
}

// parseDescriptor handles the @-forms.
func parseDescriptor(expr, trimmed string) (*Schedule, error) {
	parts := strings.Fields(trimmed)
	name := strings.ToLower(parts[0])
	if name == "@every" {
		if len(parts) != 2 {
			return nil, &ParseError{Expr: expr, Field: "@every", Msg: "want exactly one duration, e.g. @every 5m"}
		}
		d, err := time.ParseDuration(parts[1])
		if err != nil {
			return nil, &ParseError{Expr: expr, Field: "@every", Msg: fmt.Sprintf("invalid duration %q", parts[1])}
		}
		if d < time.Second {
			return nil, &ParseError{Expr: expr, Field: "@every", Msg: fmt.Sprintf("duration %s is below the minimum of 1s", d)}
		}
		if d%time.Second != 0 {
			return nil, &ParseError{Expr: expr, Field: "@every", Msg: fmt.Sprintf("duration %s is not a whole number of seconds", d)}
		}
		return &Schedule{
			expr:       expr,
			every:      int64(d / time.Second),
			hasSeconds: d%time.Minute != 0,
			valid:      true,
		}, nil
	}
	std, ok := descriptors[name]
	if !ok {
		return nil, &ParseError{Expr: expr, Msg: fmt.Sprintf(
			"unknown descriptor %q (want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>)",
			parts[0])}
	}
	if len(parts) != 1 {
		return nil, &ParseError{Expr: expr, Msg: fmt.Sprintf("%s takes no arguments", parts[0])}
	}
	s := &Schedule{expr: expr}
	if err := s.parseFields(append([]string{"0"}, strings.Fields(std)...)); err != nil {
		err.Expr = expr // unreachable: the descriptor table is fixed and valid
		return nil, err
	}
	s.finish()
	return s, nil
}

// parseFields fills the schedule from six field texts (seconds first).
func (s *Schedule) parseFields(parts []string) *ParseError {
	for i, text := range parts {
		sp := &fieldSpecs[i]
		var err string
		switch i {
		case fSecond:
			s.seconds, err = parseStandard(text, sp)
		case fMinute:
			s.minutes, err = parseStandard(text, sp)
		case fHour:
			var m uint64
			m, err = parseStandard(text, sp)
			s.hours = uint32(m)
			// The hour field's shape, not its values, decides how daylight
			// saving is handled: "*", ranges and steps mean "several times
			// a day", a value or list of values means "at this time of day".
			s.frequent = strings.ContainsAny(text, "*-/")
		case fDom:
			err = s.parseDom(text, sp)
		case fMonth:
			var m uint64
			m, err = parseStandard(text, sp)
			s.months = uint16(m)
		case fDow:
			err = s.parseDow(text, sp)
		}
		if err != "" {
			return &ParseError{Field: sp.name, Msg: err}
		}
	}
	return nil
}

// parseStandard parses a field made only of *, values, ranges, steps and
// lists, returning the set of selected values as a bit mask.
func parseStandard(text string, sp *fieldSpec) (uint64, string) {
	var mask uint64
	err := forEachItem(text, func(item string) string {
		m, err := parseItem(item, sp)
		mask |= m
		return err
	})
	return mask, err
}

// forEachItem splits a field into its comma-separated items.
func forEachItem(text string, fn func(item string) string) string {
	if text == "?" {
		return `"?" is only allowed in day-of-month and day-of-week`
	}
	for item := range strings.SplitSeq(text, ",") {
		if item == "" {
			return "empty item in list"
		}
		if err := fn(item); err != "" {
			return err
		}
	}
	return ""
}

// parseItem parses one list item: "*", "a", "a-b", each optionally followed
// by "/n".
func parseItem(item string, sp *fieldSpec) (uint64, string) {
	base, stepText, hasStep := strings.Cut(item, "/")
	lo, hi := sp.min, sp.max
	if sp.max == 7 {
		hi = 6 // "*" in day-of-week is 0-6; 7 is only an alias
	}
	switch {
	case base == "*":
	case strings.Contains(base, "?"):
		return 0, `"?" must be the whole field`
	default:
		loText, hiText, isRange := strings.Cut(base, "-")
		if loText == "" || (isRange && hiText == "") {
			return 0, fmt.Sprintf("invalid item %q", item)
		}
		v, err := parseValue(loText, sp)
		if err != "" {
			return 0, err
		}
		lo = v
		if isRange {
			h, err := parseValue(hiText, sp)
			if err != "" {
				return 0, err
			}
			// "FRI-SUN" means Friday to Sunday: SUN as the end of a range
			// is read as 7 so that it does not look reversed.
			if sp.max == 7 && h == 0 && strings.EqualFold(hiText, "SUN") {
				h = 7
			}
			if h < lo {
				return 0, fmt.Sprintf("range %s is reversed (start after end); wrap-around is not supported, use a list such as %s",
					base, wrapHint(lo, h, sp))
			}
			hi = h
		} else if !hasStep || lo > hi {
			// A single value, or "7/n" in day-of-week, which can only
			// mean Sunday.
			hi = lo
		}
	}
	step := 1
	if hasStep {
		span := sp.max - sp.min + 1
		if sp.max == 7 {
			span = 7
		}
		n, ok := parseNumber(stepText)
		if !ok {
			return 0, fmt.Sprintf("invalid step %q", stepText)
		}
		if n < 1 || n > span {
			return 0, fmt.Sprintf("step %d out of range 1-%d", n, span)
		}
		step = n
	}
	var mask uint64
	for v := lo; v <= hi; v += step {
		if sp.max == 7 && v == 7 {
			mask |= 1 // Sunday
		} else {
			mask |= 1 << uint(v)
		}
	}
	return mask, ""
}

// wrapHint suggests the list equivalent of a reversed range lo-hi.
func wrapHint(lo, hi int, sp *fieldSpec) string {
	first := sp.min
	if sp.max == 7 {
		first = 1 // in day-of-week, the 7 that ends the first part is Sunday
	}
	hint := span(lo, sp.max)
	if hi >= first {
		hint += "," + span(first, hi)
	}
	return hint
}

// span formats a range, or a single value when it has one element.
func span(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// parseValue parses a number or, where the field has names, a name.
func parseValue(text string, sp *fieldSpec) (int, string) {
	if text == "" {
		return 0, "missing value"
	}
	if text[0] < '0' || text[0] > '9' {
		if sp.names != nil {
			for i, n := range sp.names {
				if strings.EqualFold(text, n) {
					return sp.min + i, ""
				}
			}
			return 0, fmt.Sprintf("unknown name %q (want %s-%s or a number)", text, sp.names[0], sp.names[len(sp.names)-1])
		}
		return 0, fmt.Sprintf("invalid value %q", text)
	}
	n, ok := parseNumber(text)
	if !ok {
		return 0, fmt.Sprintf("invalid value %q", text)
	}
	if n < sp.min || n > sp.max {
		return 0, fmt.Sprintf("value %s out of range %d-%d", text, sp.min, sp.max)
	}
	return n, ""
}

// parseNumber parses a plain decimal number: ASCII digits only, no sign
// (which strconv.Atoi would accept). Values too large to matter saturate
// instead of overflowing, so callers report them as out of range.
func parseNumber(text string) (int, bool) {
	if text == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= 1e8 {
			n = n*10 + int(c-'0')
		}
	}
	return n, true
}

// parseDom parses the day-of-month field, which also accepts L, L-n, nW
// and LW items.
func (s *Schedule) parseDom(text string, sp *fieldSpec) string {
	if text == "?" {
		s.dom = allDays
		s.domStar = true
		return ""
	}
	s.domStar = text[0] == '*'
	return forEachItem(text, func(item string) string {
		up := strings.ToUpper(item)
		switch {
		case up == "L":
			s.domLast |= 1
		case up == "LW":
			s.domLastWeekday = true
		case strings.HasPrefix(up, "L-"):
			n, ok := parseNumber(up[2:])
			if !ok {
				return fmt.Sprintf("invalid offset in %q (want L-n with n in 0-30)", item)
			}
			if n > 30 {
				return fmt.Sprintf("offset %s in %q out of range 0-30", up[2:], item)
			}
			s.domLast |= 1 << uint(n)
		case strings.HasSuffix(up, "W"):
			n, err := parseValue(up[:len(up)-1], sp)
			if err != "" {
				return fmt.Sprintf("in %q: %s (want nW with n in 1-31, or LW)", item, err)
			}
			s.domNearest |= 1 << uint(n)
		case strings.ContainsAny(up, "LW"):
			return fmt.Sprintf("invalid item %q (L and W are used as L, L-n, nW or LW)", item)
		default:
			m, err := parseItem(item, sp)
			if err != "" {
				return err
			}
			s.dom |= uint32(m)
		}
		return ""
	})
}

// parseDow parses the day-of-week field, which also accepts nL and n#k items.
func (s *Schedule) parseDow(text string, sp *fieldSpec) string {
	if text == "?" {
		s.dow = allWeekdays
		s.dowStar = true
		return ""
	}
	s.dowStar = text[0] == '*'
	return forEachItem(text, func(item string) string {
		up := strings.ToUpper(item)
		switch {
		case up == "L":
			return `"L" in day-of-week needs a weekday, e.g. 5L for the last Friday`
		case strings.Contains(up, "#"):
			dayText, nthText, _ := strings.Cut(up, "#")
			d, err := parseValue(dayText, sp)
			if err != "" {
				return fmt.Sprintf("in %q: %s", item, err)
			}
			k, ok := parseNumber(nthText)
			if !ok {
				return fmt.Sprintf("invalid occurrence in %q (want n#k with k in 1-5)", item)
			}
			if k < 1 || k > 5 {
				return fmt.Sprintf("occurrence %s in %q out of range 1-5", nthText, item)
			}
			s.dowNth[d%7] |= 1 << uint(k)
		case len(up) > 1 && strings.HasSuffix(up, "L"):
			d, err := parseValue(up[:len(up)-1], sp)
			if err != "" {
				return fmt.Sprintf("in %q: %s", item, err)
			}
			s.dowLast |= 1 << uint(d%7)
		default:
			m, err := parseItem(item, sp)
			if err != "" {
				return err
			}
			s.dow |= uint8(m)
		}
		return ""
	})
}
