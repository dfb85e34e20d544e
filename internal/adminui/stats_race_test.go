//go:build race

package adminui_test

// dashboardRuns is how many finished runs the dashboard test loads: under
// the race detector, which slows SQLite's Go translation about fifty
// times, fewer than the 25,000 of a plain `go test`.
const dashboardRuns = 2_000
