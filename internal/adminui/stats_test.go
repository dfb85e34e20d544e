package adminui_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// TestDashboardCountsAreExact loads more finished runs than the dashboard
// ever paged through (some of them before the 24-hour window) and checks
// every tile against what was loaded; and the job page's last run and
// durations.
func TestDashboardCountsAreExact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	j := e.createJob(`{"id":"busy","handler":"test.noop"}`)
	now := e.clk.Now()
	h := store.History{Jobs: []*connecthub.Job{j}, Runs: dashboardRuns, From: now.Add(-30 * time.Hour), Step: 30 * time.Hour / dashboardRuns}
	if err := e.st.(store.HistoryLoader).LoadHistory(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	since := connecthub.Stats24hSince(now)
	want := map[connecthub.RunStatus]int64{}
	for i := range h.Runs {
		if !h.HistoryFinished(i).Before(since) {
			want[store.HistoryStatus(i)]++
		}
	}
	running := e.finishedRun("busy", "", connecthub.StatusRunning, "")
	want[connecthub.StatusRunning] = 1

	b := e.browser()
	b.login()
	p := b.get("/admin/")
	if p.status != http.StatusOK {
		t.Fatalf("dashboard: status %d", p.status)
	}
	tile := regexp.MustCompile(`tile-label">([^<]+)</span>\s*<span class="tile-value">(\d+)</span>`)
	got := map[string]string{}
	for _, m := range tile.FindAllStringSubmatch(p.body, -1) {
		got[m[1]] = m[2]
	}
	for status, label := range map[connecthub.RunStatus]string{
		connecthub.StatusSuccess: "Success", connecthub.StatusFailure: "Failure", connecthub.StatusSkipped: "Skipped",
		connecthub.StatusRunning: "Running", connecthub.StatusQueued: "Queued", connecthub.StatusCanceled: "Canceled",
	} {
		if got[label] != itoa(want[status]) {
			t.Errorf("tile %s = %q, want %d (tiles %v)", label, got[label], want[status], got)
		}
	}

	// The job page: its newest finished run (the history's last one, as the
	// running run has not finished) and the durations of its last 20
	// successful runs.
	page := b.get("/admin/jobs/busy/edit")
	last := regexp.MustCompile(`id="job-last-run"><a href="/admin/runs/([0-9A-Z]{26})"`).FindStringSubmatch(page.body)
	if last == nil || last[1] == running.ID {
		t.Errorf("job page's last run = %v, want the newest finished run", last)
	}
	if !regexp.MustCompile(`id="job-durations">median [^<]+ · p95 [^<]+</dd>`).MatchString(page.body) {
		t.Error("the job page does not show the durations' median and p95")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
