package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseVmHWM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  string
		want    float64
		wantErr string
	}{
		{"found", "Name:\tbench\nVmPeak:\t  99999 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 1 kB\n", 50, ""},
		{"missing", "Name:\tbench\n", 0, "no VmHWM"},
		{"bad unit", "VmHWM:\t 12 MB\n", 0, "unexpected VmHWM"},
		{"bad number", "VmHWM:\t x kB\n", 0, "VmHWM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseVmHWM(strings.NewReader(tt.status))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestPeakRSSOfThisProcess(t *testing.T) {
	t.Parallel()
	mb, err := peakRSSMB()
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if mb <= 0 || mb > 100000 {
		t.Errorf("peak RSS %v MB is not plausible", mb)
	}
}

func TestParseLoadAvg(t *testing.T) {
	t.Parallel()
	if v, err := parseLoadAvg("4.98 5.03 5.39 3/812 12345\n"); err != nil || v != 4.98 {
		t.Errorf("got %v, %v; want 4.98", v, err)
	}
	if _, err := parseLoadAvg(""); err == nil {
		t.Error("empty input: want an error")
	}
	if _, err := parseLoadAvg("x 1 2"); err == nil {
		t.Error("non-number: want an error")
	}
}

func TestCPUModelAndMemTotal(t *testing.T) {
	t.Parallel()
	cpuinfo := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: other\n"
	if got := cpuModel(cpuinfo); got != "Intel(R) Xeon(R) Processor" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := cpuModel("processor: 0\n"); got != "" {
		t.Errorf("cpuModel without a model = %q, want empty", got)
	}
	if got := memTotalMB("MemTotal:       24683520 kB\nMemFree: 1 kB\n"); got != 24105 {
		t.Errorf("memTotalMB = %d, want 24105", got)
	}
	if got := memTotalMB("MemFree: 1 kB\n"); got != 0 {
		t.Errorf("memTotalMB without MemTotal = %d, want 0", got)
	}
}

func TestParseProcStatBusy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{"busy excludes idle and iowait", "cpu  100 10 50 1000 30 5 5 0 7 0\ncpu0 1 1 1 1 1 1 1 1\n", 1700 * time.Millisecond, false},
		{"old kernels have fewer fields", "cpu 100 0 100 500 0\n", 2 * time.Second, false},
		{"no cpu line", "intr 1 2 3\n", 0, true},
		{"garbage", "cpu a b c d e\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseProcStatBusy(tt.stat)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %v, %v; want %v (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
