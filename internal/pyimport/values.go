package pyimport

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Shanghai is the zone of the Python ConnectHub's naive timestamps: its
// beat read them as Asia/Shanghai wall-clock times.
var Shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // the tz database is embedded in the binary (time/tzdata)
	}
	return loc
}

// text renders a column value as the text the old code would see: NULL is
// "", bytes are text, numbers their decimal form.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}

// boolean reads a boolean column: SQLite keeps 0/1 (SQLAlchemy) and
// PostgreSQL's text form is true/false. NULL is def.
func boolean(v any, def bool) (bool, error) {
	s := strings.ToLower(strings.TrimSpace(text(v)))
	switch s {
	case "":
		return def, nil
	case "1", "t", "true", "y", "yes", "on":
		return true, nil
	case "0", "f", "false", "n", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}

// naiveLayouts are the forms of a timestamp without a zone: SQLAlchemy's
// SQLite form, PostgreSQL's text form, and ISO 8601.
var naiveLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// zonedLayouts are the forms of a timestamp with an offset (PostgreSQL's
// timestamptz as text, RFC 3339).
var zonedLayouts = []string{
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999-07",
}

// timestamp reads a time column. A value without an offset is a
// wall-clock time in Asia/Shanghai, as the Python ConnectHub wrote it; one
// with an offset is that instant; a number is Unix seconds (or
// milliseconds, when too large for seconds). NULL and "" are nil.
func timestamp(v any) (*time.Time, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case time.Time:
		t := x.UTC()
		return &t, nil
	case int64:
		return unixTime(float64(x)), nil
	case float64:
		return unixTime(x), nil
	}
	s := strings.TrimSpace(text(v))
	if s == "" {
		return nil, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "-:") {
		return unixTime(f), nil
	}
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	for _, l := range naiveLayouts {
		if t, err := time.ParseInLocation(l, s, Shanghai); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("%q is not a timestamp", s)
}

func unixTime(f float64) *time.Time {
	if f > 1e11 { // milliseconds: seconds this large are past the year 5000
		f /= 1000
	}
	sec := int64(f)
	t := time.Unix(sec, int64((f-float64(sec))*1e9)).UTC().Truncate(time.Microsecond)
	return &t
}

// naiveText is t as the Python ConnectHub stores it: the wall-clock time
// in Asia/Shanghai, microseconds, no zone (SQLAlchemy's SQLite form).
func naiveText(t time.Time) string {
	return t.In(Shanghai).Format("2006-01-02 15:04:05.000000")
}

// ParseSince reads --since: a date (midnight in Asia/Shanghai, the old
// system's zone) or an RFC 3339 time.
func ParseSince(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, l := range naiveLayouts {
		if t, err := time.ParseInLocation(l, s, Shanghai); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: use a date (2024-05-01, Asia/Shanghai) or an RFC 3339 time", s)
}
