package config

import (
	"strings"
	"testing"
	"time"
)

// TestAuditRetention: retention is written in whole days, Go durations
// also work, and less than an hour is refused.
func TestAuditRetention(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value string
		want  time.Duration
		err   string
	}{
		{"", 365 * 24 * time.Hour, ""},
		{"90d", 90 * 24 * time.Hour, ""},
		{" 30d ", 30 * 24 * time.Hour, ""},
		{"720h", 720 * time.Hour, ""},
		{"10m", 0, "CONNECTHUB_AUDIT_RETENTION: must be at least 1h"},
		{"ninety days", 0, "CONNECTHUB_AUDIT_RETENTION: not a duration"},
	} {
		c2, err := Load(func(k string) string {
			if k == "CONNECTHUB_AUDIT_RETENTION" {
				return c.value
			}
			return ""
		}, "")
		if err == nil {
			err = c2.Validate()
		}
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.value, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want %q", c.value, err, c.err)
		case c.err == "" && c2.AuditRetention != c.want:
			t.Errorf("%q: %s, want %s", c.value, c2.AuditRetention, c.want)
		}
	}
}

// TestRunRetention: the default is 90 days, 0 turns it off, and a
// negative or sub-hour value is refused with the variable's name.
func TestRunRetention(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value string
		want  time.Duration
		err   string
	}{
		{"", 90 * 24 * time.Hour, ""},
		{"30d", 30 * 24 * time.Hour, ""},
		{"0", 0, ""},
		{"0d", 0, ""},
		{"2h", 2 * time.Hour, ""},
		{"10m", 0, "CONNECTHUB_RUN_RETENTION: must be at least 1h, or 0"},
		{"-1h", 0, "CONNECTHUB_RUN_RETENTION: must be at least 1h, or 0"},
		{"off", 0, "CONNECTHUB_RUN_RETENTION: not a duration"},
	} {
		c2, err := Load(func(k string) string {
			if k == "CONNECTHUB_RUN_RETENTION" {
				return c.value
			}
			return ""
		}, "")
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.value, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want %q", c.value, err, c.err)
		case c.err == "" && c2.RunRetention != c.want:
			t.Errorf("%q: %s, want %s", c.value, c2.RunRetention, c.want)
		}
	}
}

// TestCleanDelay reads CONNECTHUB_CLEAN_DELAY: 1m by default, 0 (clean at
// once) allowed, a negative or unreadable value refused by name.
func TestCleanDelay(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value string
		want  time.Duration
		err   string
	}{
		{"", time.Minute, ""},
		{"0", 0, ""},
		{"30s", 30 * time.Second, ""},
		{"-1m", 0, "CONNECTHUB_CLEAN_DELAY: must not be negative"},
		{"soon", 0, "CONNECTHUB_CLEAN_DELAY: not a duration"},
	} {
		c2, err := Load(func(k string) string {
			if k == "CONNECTHUB_CLEAN_DELAY" {
				return c.value
			}
			return ""
		}, "")
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.value, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want %q", c.value, err, c.err)
		case c.err == "" && c2.CleanDelay != c.want:
			t.Errorf("%q: %s, want %s", c.value, c2.CleanDelay, c.want)
		}
	}
}
