//go:build !race

package storetest

// busyDayRuns is how many runs the busy-day test of the counts writes: a
// day as busy as the 24-hour counts must stay exact on (see stats_race.go
// for the race detector's smaller day).
const busyDayRuns = 100_000
