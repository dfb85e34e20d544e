package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// peakRSSMB returns the process's peak resident set size (VmHWM) in MiB.
// Each measurement runs in a process of its own, so this high-water mark
// belongs to that measurement alone.
func peakRSSMB() (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	defer f.Close()
	return parseVmHWM(f)
}

// parseVmHWM reads the VmHWM line of a /proc/<pid>/status file, in MiB.
func parseVmHWM(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("peak RSS: unexpected VmHWM line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("peak RSS: VmHWM %q: %w", fields[0], err)
		}
		return float64(kb) / 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM line in /proc/self/status (not Linux?)")
}

// loadAvg returns the 1-minute load average, or -1 when it cannot be read.
// The machine is shared, so every measurement is printed with the load it
// ran under.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	v, err := parseLoadAvg(string(b))
	if err != nil {
		return -1
	}
	return v
}

// parseLoadAvg returns the first field of /proc/loadavg.
func parseLoadAvg(s string) (float64, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return 0, fmt.Errorf("empty load average")
	}
	return strconv.ParseFloat(fields[0], 64)
}

// machine describes the host, for the report's footer and docs/benchmarks.md.
type machine struct {
	CPUModel   string
	CPUs       int
	GOMAXPROCS int
	MemTotalMB int64
	GoVersion  string
	Kernel     string
}

// describeMachine collects what can be known about the host; fields it
// cannot read stay empty rather than failing the benchmark.
func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemTotalMB = memTotalMB(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		key, value, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// memTotalMB returns MemTotal of /proc/meminfo in MiB, 0 if absent.
func memTotalMB(meminfo string) int64 {
	for line := range strings.Lines(meminfo) {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 2 {
			if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

// cpuTimes is a snapshot of CPU time: this process's (user + system) and
// the whole machine's busy time (every state but idle and iowait), so that
// a measurement can say how much of the machine it used and how much went
// elsewhere: to the PostgreSQL server, or to other users of the machine.
type cpuTimes struct {
	wall    time.Time
	process time.Duration
	busy    time.Duration // -1 when /proc/stat cannot be read
}

func readCPUTimes() cpuTimes {
	t := cpuTimes{wall: time.Now(), busy: -1}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		t.process = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		if busy, err := parseProcStatBusy(string(b)); err == nil {
			t.busy = busy
		}
	}
	return t
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// parseProcStatBusy returns the machine's busy CPU time from the "cpu" line
// of /proc/stat: user nice system idle iowait irq softirq steal ..., where
// everything except idle and iowait counts as busy (guest time is already
// included in user).
func parseProcStatBusy(stat string) (time.Duration, error) {
	for line := range strings.Lines(stat) {
		fields := strings.Fields(line)
		if len(fields) < 5 || fields[0] != "cpu" {
			continue
		}
		var busy int64
		for i, f := range fields[1:min(len(fields), 9)] {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat: %q: %w", f, err)
			}
			if i != 3 && i != 4 { // idle, iowait
				busy += v
			}
		}
		return time.Duration(busy) * time.Second / clockTicks, nil
	}
	return 0, fmt.Errorf("/proc/stat: no cpu line")
}
