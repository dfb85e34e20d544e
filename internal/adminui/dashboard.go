package adminui

import (
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/connecthub/connecthub"
)

// statusCount is one tile of the dashboard.
type statusCount struct {
	Status connecthub.RunStatus
	N      int64
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
	Counts     []statusCount
	Total      int64
	Queues     []queueView
	QueueDepth int64
	Stats      *connecthub.Stats
	Failures   []runRow
	Nodes      nodesView
	NoJobs     bool
}

// dashboard shows the last 24 h at a glance: runs by status, the queue,
// recent failures and the nodes. Everything on it comes from Stats (the
// maintained counts and the active set) and a few short lists, so it
// answers as fast with ten million runs as with none.
func (u *UI) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	stats, err := u.svc.Stats(ctx)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	// The tiles: the runs waiting and running now, and those that finished
	// in the 24-hour window, from the maintained counts (exact however
	// busy the day).
	dv := dashView{Stats: stats, NoJobs: stats.Jobs == 0}
	since := stats.Since24h
	for _, st := range connecthub.AllStatuses {
		n := stats.Runs24h[st]
		if !st.Terminal() {
			n = stats.Runs[st]
		}
		q := url.Values{"status": {string(st)}}
		if st.Terminal() {
			q.Set("since", since.Format(time.RFC3339))
		}
		dv.Counts = append(dv.Counts, statusCount{Status: st, N: n, Href: Prefix + "/runs?" + q.Encode()})
		dv.Total += n
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
	locs := u.jobLocations(ctx, runJobIDs(fails)...)
	for _, f := range fails {
		dv.Failures = append(dv.Failures, runRow{Run: f, Loc: locs(f.JobID)})
	}
	dv.Nodes = u.nodeList(ctx)
	u.render(w, r, http.StatusOK, "dashboard", u.page(w, r, "dashboard", "dashboard.title", dv))
}
