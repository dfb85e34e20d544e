package adminui

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/connecthub/connecthub"
)

// dashboardWindow is the period the dashboard's run counts cover.
const dashboardWindow = 24 * time.Hour

// dashboardCountCap bounds how many runs the dashboard counts by paging
// through the last 24 h; beyond it the counts show as "at least".
const dashboardCountCap = 20000

// statusCount is one tile of the dashboard.
type statusCount struct {
	Status connecthub.RunStatus
	N      int
	Href   string
}

// queueView is one queue's depth and the age of its oldest waiting run.
type queueView struct {
	Queue     string
	Depth     int64
	OldestAge time.Duration
}

// dashView is the data of the dashboard.
type dashView struct {
	Counts      []statusCount
	Total       int
	CountCapped bool
	Queues      []queueView
	QueueDepth  int64
	Stats       *connecthub.Stats
	Failures    []runRow
	Nodes       nodesView
	NoJobs      bool
}

// dashboard shows the last 24 h at a glance: runs by status, the queue,
// recent failures and the nodes.
func (u *UI) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	stats, err := u.svc.Stats(ctx)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	since := u.now().Add(-dashboardWindow).UTC().Truncate(time.Minute)
	dv := dashView{Stats: stats, NoJobs: stats.Jobs == 0}
	counts, total, capped, err := u.countSince(ctx, since)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	dv.Total, dv.CountCapped = total, capped
	for _, st := range connecthub.AllStatuses {
		q := url.Values{"status": {string(st)}, "since": {since.Format(time.RFC3339)}}
		dv.Counts = append(dv.Counts, statusCount{Status: st, N: counts[st], Href: Prefix + "/runs?" + q.Encode()})
	}
	for _, q := range stats.Queues {
		dv.Queues = append(dv.Queues, queueView{Queue: q.Queue, Depth: q.Depth,
			OldestAge: time.Duration(q.OldestAgeSecond * float64(time.Second)).Round(time.Second)})
		dv.QueueDepth += q.Depth
	}
	sort.Slice(dv.Queues, func(i, j int) bool { return dv.Queues[i].Queue < dv.Queues[j].Queue })
	fails, _, err := u.svc.RunList(ctx, connecthub.RunFilter{Status: []connecthub.RunStatus{connecthub.StatusFailure}, Limit: 8})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	locs := u.jobLocations(ctx)
	for _, f := range fails {
		dv.Failures = append(dv.Failures, runRow{Run: f, Loc: locs(f.JobID)})
	}
	dv.Nodes = u.nodeList(ctx)
	u.render(w, r, http.StatusOK, "dashboard", u.page(w, r, "dashboard", "dashboard.title", dv))
}

// countSince counts the runs created since t by status. The store has no
// grouped count by time, so it pages through the runs, newest first, up to
// dashboardCountCap.
func (u *UI) countSince(ctx context.Context, t time.Time) (map[connecthub.RunStatus]int, int, bool, error) {
	counts := map[connecthub.RunStatus]int{}
	p := connecthub.RunFilter{Since: &t, Limit: 500}
	total := 0
	for {
		runs, next, err := u.svc.RunList(ctx, p)
		if err != nil {
			return nil, 0, false, err
		}
		for _, r := range runs {
			counts[r.Status]++
		}
		total += len(runs)
		if next == "" {
			return counts, total, false, nil
		}
		if total >= dashboardCountCap {
			return counts, total, true, nil
		}
		p.Cursor = next
	}
}
