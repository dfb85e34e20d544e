package cron_test

import (
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // examples must not depend on the host's zoneinfo

	"github.com/connecthub/connecthub/cron"
)

// A daily job at 02:30 in New York: on the spring-forward day 02:30 does not
// exist, so the job runs once at 03:00 EDT, the first instant after the gap.
func Example() {
	s, err := cron.Parse("30 2 * * *")
	if err != nil {
		panic(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	after := time.Date(2025, 3, 8, 12, 0, 0, 0, ny)
	for _, t := range s.NextN(after, ny, 3) {
		fmt.Println(t.Format(time.RFC3339))
	}
	// Output:
	// 2025-03-09T03:00:00-04:00
	// 2025-03-10T02:30:00-04:00
	// 2025-03-11T02:30:00-04:00
}

// An hourly job fires in both offsets of the hour that the fall-back repeats.
func ExampleSchedule_Next() {
	s, err := cron.Parse("@hourly")
	if err != nil {
		panic(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	t := time.Date(2025, 11, 2, 0, 30, 0, 0, ny)
	for range 3 {
		t = s.Next(t, ny)
		fmt.Println(t.Format(time.RFC3339))
	}
	// Output:
	// 2025-11-02T01:00:00-04:00
	// 2025-11-02T01:00:00-05:00
	// 2025-11-02T02:00:00-05:00
}

// @every slots are multiples of the interval since the Unix epoch, so every
// server computes the same ones.
func ExampleSchedule_Next_every() {
	s, err := cron.Parse("@every 90m")
	if err != nil {
		panic(err)
	}
	after := time.Date(2025, 1, 1, 0, 10, 0, 0, time.UTC)
	fmt.Println(s.Next(after, nil).Format(time.RFC3339))
	// Output:
	// 2025-01-01T01:30:00Z
}

func ExampleParse_error() {
	_, err := cron.Parse("61 * * * *")
	var pe *cron.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Field)
		fmt.Println(err)
	}
	// Output:
	// minute
	// minute field "61": value 61 out of range 0-59
}
