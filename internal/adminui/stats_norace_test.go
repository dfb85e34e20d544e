//go:build !race

package adminui_test

// dashboardRuns is how many finished runs the dashboard test loads: more
// than the 20,000 the dashboard used to page through before giving up.
const dashboardRuns = 25_000
