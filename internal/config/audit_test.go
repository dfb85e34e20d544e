package config

import (
	"strings"
	"testing"
	"time"
)

// TestHousekeepingDurations reads the durations of the cleaners, each set
// alone:
//   - CONNECTHUB_AUDIT_RETENTION is written in whole days, Go durations
//     also work, and less than an hour is refused;
//   - CONNECTHUB_RUN_RETENTION defaults to 90 days, 0 turns it off, and a
//     negative or sub-hour value is refused;
//   - CONNECTHUB_CLEAN_DELAY defaults to 1m, 0 (clean at once) is allowed,
//     and a negative value is refused;
//
// every refusal names the variable.
func TestHousekeepingDurations(t *testing.T) {
	t.Parallel()
	type tc struct {
		value string
		want  time.Duration
		err   string
	}
	for _, v := range []struct {
		name  string
		field func(*Config) time.Duration
		cases []tc
	}{
		{"CONNECTHUB_AUDIT_RETENTION", func(c *Config) time.Duration { return c.AuditRetention }, []tc{
			{"", 365 * 24 * time.Hour, ""},
			{"90d", 90 * 24 * time.Hour, ""},
			{" 30d ", 30 * 24 * time.Hour, ""},
			{"720h", 720 * time.Hour, ""},
			{"10m", 0, "CONNECTHUB_AUDIT_RETENTION: must be at least 1h"},
			{"ninety days", 0, "CONNECTHUB_AUDIT_RETENTION: not a duration"},
		}},
		{"CONNECTHUB_RUN_RETENTION", func(c *Config) time.Duration { return c.RunRetention }, []tc{
			{"", 90 * 24 * time.Hour, ""},
			{"30d", 30 * 24 * time.Hour, ""},
			{"0", 0, ""},
			{"0d", 0, ""},
			{"2h", 2 * time.Hour, ""},
			{"10m", 0, "CONNECTHUB_RUN_RETENTION: must be at least 1h, or 0"},
			{"-1h", 0, "CONNECTHUB_RUN_RETENTION: must be at least 1h, or 0"},
			{"off", 0, "CONNECTHUB_RUN_RETENTION: not a duration"},
		}},
		{"CONNECTHUB_CLEAN_DELAY", func(c *Config) time.Duration { return c.CleanDelay }, []tc{
			{"", time.Minute, ""},
			{"0", 0, ""},
			{"30s", 30 * time.Second, ""},
			{"-1m", 0, "CONNECTHUB_CLEAN_DELAY: must not be negative"},
			{"soon", 0, "CONNECTHUB_CLEAN_DELAY: not a duration"},
		}},
	} {
		for _, c := range v.cases {
			got, err := Load(func(k string) string {
				if k == v.name {
					return c.value
				}
				return ""
			}, "")
			if err == nil {
				err = got.Validate()
			}
			switch {
			case c.err == "" && err != nil:
				t.Errorf("%s=%q: %v", v.name, c.value, err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("%s=%q: error %v, want %q", v.name, c.value, err, c.err)
			case c.err == "" && v.field(got) != c.want:
				t.Errorf("%s=%q: %s, want %s", v.name, c.value, v.field(got), c.want)
			}
		}
	}
}
