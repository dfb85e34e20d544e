package store

import (
	"testing"
	"time"
)

func TestDecideQuiet(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	sent := now.Add(-5 * time.Minute)
	cases := []struct {
		name    string
		st      AlertState
		subject string
		quiet   time.Duration
		want    bool
	}{
		{"never sent", AlertState{}, "r1", time.Hour, true},
		{"within quiet", AlertState{LastSentAt: &sent, Subject: "r1"}, "r2", 10 * time.Minute, false},
		{"quiet over", AlertState{LastSentAt: &sent, Subject: "r1"}, "r2", 5 * time.Minute, true},
		{"same subject never twice", AlertState{LastSentAt: &sent, Subject: "r1"}, "r1", 0, false},
		{"no quiet period", AlertState{LastSentAt: &sent, Subject: "r1"}, "r2", 0, true},
	}
	for _, c := range cases {
		if got := DecideQuiet(c.st, c.subject, c.quiet, now); got != c.want {
			t.Errorf("%s: DecideQuiet = %v", c.name, got)
		}
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	s := time.Second
	cases := []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{3 * s}, 3 * s},
		{[]time.Duration{9 * s, 1 * s, 5 * s}, 5 * s},
		{[]time.Duration{4 * s, 1 * s, 2 * s, 100 * s}, 3 * s},
	}
	for _, c := range cases {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
