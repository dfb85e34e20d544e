//go:build race

package storetest

// busyDayRuns is how many runs the busy-day test of the counts writes. The
// race detector instruments the SQLite driver's Go translation of SQLite,
// which makes a bulk insert about fifty times slower: under it the test
// writes fewer runs over the same 30 hours (every hour still has dozens),
// and `go test` without -race checks the full 100,000.
const busyDayRuns = 2_000
