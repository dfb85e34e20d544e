package cron

import (
	"testing"
	"time"
)

// BenchmarkNext measures one Next call for typical and worst-case
// expressions; every call should take microseconds, not a scan.
func BenchmarkNext(b *testing.B) {
	cases := []struct{ name, expr, zone string }{
		{"every-minute", "* * * * *", "UTC"},
		{"every-5-minutes-new-york", "*/5 * * * *", "America/New_York"},
		{"daily-new-york", "30 2 * * *", "America/New_York"},
		{"weekdays-shanghai", "0 9 * * MON-FRI", "Asia/Shanghai"},
		{"last-friday-lord-howe", "0 0 * * 5L", "Australia/Lord_Howe"},
		{"nearest-weekday-santiago", "0 0 15W * *", "America/Santiago"},
		{"every-second", "* * * * * *", "Europe/London"},
		{"feb-29", "0 0 29 2 *", "America/New_York"},
		{"fifth-monday-of-february", "0 0 ? 2 MON#5", "Europe/London"},
		{"every-90m", "@every 90m", "America/New_York"},
		{"never", "0 0 30 2 *", "America/New_York"},
		{"gap-only-horizon", "0 2-2 ? 3 SUN#2", "America/New_York"},
	}
	// Start points spread over a few years, including transition days.
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	afters := make([]time.Time, 64)
	for i := range afters {
		afters[i] = base.Add(time.Duration(i) * 457 * time.Hour)
	}
	for _, bc := range cases {
		s := mustParse(b, bc.expr)
		loc := mustLoad(b, bc.zone)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Next(afters[i%len(afters)], loc)
				i++
			}
		})
	}
}

// BenchmarkParse measures parsing, including the one-off check for
// expressions that never match.
func BenchmarkParse(b *testing.B) {
	for _, expr := range []string{"*/5 * * * *", "0 0 L-2,15W * MON#2", "0 0 30 2 *"} {
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(expr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
