package connecthub

import (
	"strings"
	"testing"
	"time"
)

func TestAlertRuleThreshold(t *testing.T) {
	t.Parallel()
	cases := []struct {
		event, threshold string
		want             RuleThreshold
		bad              bool
	}{
		{EventFailure, "", RuleThreshold{Failures: 1}, false},
		{EventFailure, "3", RuleThreshold{Failures: 3}, false},
		{EventFailure, "0", RuleThreshold{}, true},
		{EventFailure, "3x", RuleThreshold{}, true},
		{EventLongRunning, "30m", RuleThreshold{Duration: 30 * time.Minute}, false},
		{EventLongRunning, "3x", RuleThreshold{Factor: 3}, false},
		{EventLongRunning, "1.5x", RuleThreshold{Factor: 1.5}, false},
		{EventLongRunning, "0.5x", RuleThreshold{}, true},
		{EventLongRunning, "", RuleThreshold{}, true},
		{EventMissed, "", RuleThreshold{Duration: DefaultMissedGrace}, false},
		{EventMissed, "90s", RuleThreshold{Duration: 90 * time.Second}, false},
		{EventRecovery, "", RuleThreshold{}, false},
		{EventRecovery, "2", RuleThreshold{}, true},
	}
	for _, c := range cases {
		r := AlertRule{Event: c.event, Threshold: c.threshold}
		got, err := r.ParseThreshold()
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("%s %q: got %+v, %v", c.event, c.threshold, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "threshold") {
			t.Errorf("%s %q: the error does not name the field: %v", c.event, c.threshold, err)
		}
	}
}

func TestRuleMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		m                   RuleMatch
		job, handler, queue string
		want                bool
	}{
		{RuleMatch{}, "a", "h", "q", true},
		{RuleMatch{Job: "payroll.*"}, "payroll.monthly", "h", "q", true},
		{RuleMatch{Job: "payroll.*"}, "hr.payroll", "h", "q", false},
		{RuleMatch{Job: "exact"}, "exact", "h", "q", true},
		{RuleMatch{Handler: "http"}, "a", "shell", "q", false},
		{RuleMatch{Queue: "q"}, "a", "h", "q", true},
		{RuleMatch{Job: "a*", Queue: "other"}, "ab", "h", "q", false},
	}
	for _, c := range cases {
		if got := c.m.Matches(c.job, c.handler, c.queue); got != c.want {
			t.Errorf("%+v matches (%s, %s, %s) = %v", c.m, c.job, c.handler, c.queue, got)
		}
	}
}

func TestChannelURLIsWriteOnly(t *testing.T) {
	t.Parallel()
	base, query, err := SplitChannelURL("https://oapi.dingtalk.com/robot/send?access_token=abc123&x=1")
	if err != nil || base != "https://oapi.dingtalk.com/robot/send" || query != "access_token=abc123&x=1" {
		t.Fatalf("SplitChannelURL = %q %q %v", base, query, err)
	}
	masked := MaskedURL(base, query)
	if masked != "https://oapi.dingtalk.com/robot/send?access_token=******&x=******" || strings.Contains(masked, "abc123") {
		t.Fatalf("MaskedURL = %q", masked)
	}
	for _, bad := range []string{"", "ftp://x/y", "/relative", "https://user:pw@host/x"} {
		if _, _, err := SplitChannelURL(bad); err == nil || !strings.Contains(err.Error(), "url") {
			t.Errorf("SplitChannelURL(%q) = %v, want an error naming url", bad, err)
		}
	}
}

func TestErrorSummary(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("line\n", 10)
	if got := ErrorSummary(long); strings.Count(got, "\n") != ErrorSummaryLines || !strings.HasSuffix(got, "…") {
		t.Fatalf("ErrorSummary keeps %d lines: %q", strings.Count(got, "\n"), got)
	}
	wide := strings.Repeat("错", 600)
	if got := ErrorSummary(wide); len(got) > 1004 || !strings.HasSuffix(got, "…") || strings.ContainsRune(got, '\uFFFD') {
		t.Fatalf("ErrorSummary of a wide line: %d bytes", len(got))
	}
}
