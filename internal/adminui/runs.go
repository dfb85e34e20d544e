package adminui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/timefmt"
)

// runsPageSize is how many runs one page of the runs table shows.
const runsPageSize = 50

// runRow is a run with the timezone of its job, in which its times show.
type runRow struct {
	Run *connecthub.Run
	Loc *time.Location
}

// runsView is the data of the runs page.
type runsView struct {
	Rows       []runRow
	Query      url.Values
	JobID      string
	Status     string
	Trigger    string
	Since      string // as the datetime-local inputs show it
	Until      string
	TZ         string
	Statuses   []connecthub.RunStatus
	Triggers   []connecthub.Trigger
	Ranges     []rangeLink
	FirstPage  bool
	NextCursor string
	Filtered   bool
	Error      string
}

// rangeLink is a quick time filter ("last 24 h").
type rangeLink struct {
	Key    string
	Href   string
	Active bool
}

var allTriggers = []connecthub.Trigger{connecthub.TriggerCron, connecthub.TriggerManual, connecthub.TriggerRetry, connecthub.TriggerAPI, connecthub.TriggerChain}

// dateInputLayout is what <input type="datetime-local"> sends.
const dateInputLayout = "2006-01-02T15:04"

// parseFilterTime accepts an RFC 3339 time (from links) or a datetime-local
// value, read in the UI's default timezone.
func (u *UI) parseFilterTime(v string) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return &t, nil
	}
	for _, layout := range []string{dateInputLayout, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, u.defLoc); err == nil {
			return &t, nil
		}
	}
	return nil, fmt.Errorf("%q is not a date and time", v)
}

// runList shows the runs table with its filters.
func (u *UI) runList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rv := runsView{Query: q, JobID: strings.TrimSpace(q.Get("job_id")), Status: strings.ToUpper(q.Get("status")),
		Trigger: strings.ToLower(q.Get("trigger")), TZ: u.cfg.Timezone, Statuses: connecthub.AllStatuses, Triggers: allTriggers,
		FirstPage: q.Get("cursor") == ""}
	p := connecthub.RunFilter{JobID: rv.JobID, Limit: runsPageSize, Cursor: q.Get("cursor")}
	var problems []string
	if rv.Status != "" {
		for _, s := range strings.Split(rv.Status, ",") {
			st := connecthub.RunStatus(strings.TrimSpace(s))
			if !st.Valid() {
				problems = append(problems, u.tr(r, "runs.bad_status", s))
				continue
			}
			p.Status = append(p.Status, st)
		}
	}
	if rv.Trigger != "" {
		if t := connecthub.Trigger(rv.Trigger); t.Valid() {
			p.Trigger = t
		} else {
			problems = append(problems, u.tr(r, "runs.bad_trigger", rv.Trigger))
		}
	}
	var err error
	if p.Since, err = u.parseFilterTime(q.Get("since")); err != nil {
		problems = append(problems, u.tr(r, "runs.bad_since", q.Get("since")))
	}
	if p.Until, err = u.parseFilterTime(q.Get("until")); err != nil {
		problems = append(problems, u.tr(r, "runs.bad_until", q.Get("until")))
	}
	if p.Since != nil {
		rv.Since = p.Since.In(u.defLoc).Format(dateInputLayout)
	}
	if p.Until != nil {
		rv.Until = p.Until.In(u.defLoc).Format(dateInputLayout)
	}
	rv.Filtered = rv.JobID != "" || rv.Status != "" || rv.Trigger != "" || p.Since != nil || p.Until != nil
	now := u.now()
	for _, rg := range []struct {
		key string
		d   time.Duration
	}{{"runs.range_1h", time.Hour}, {"runs.range_24h", 24 * time.Hour}, {"runs.range_7d", 7 * 24 * time.Hour}} {
		since := now.Add(-rg.d).UTC().Truncate(time.Minute)
		rv.Ranges = append(rv.Ranges, rangeLink{Key: rg.key, Href: Prefix + "/runs" + withQuery(q, "since", since.Format(time.RFC3339), "until", "", "cursor", ""),
			Active: p.Since != nil && p.Until == nil && absDuration(p.Since.Sub(since)) < 2*time.Minute})
	}
	if len(problems) > 0 {
		rv.Error = strings.Join(problems, " ")
		u.render(w, r, http.StatusBadRequest, "runs", u.page(w, r, "runs", "runs.title", rv))
		return
	}
	runs, next, err := u.svc.RunList(r.Context(), p)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rv.NextCursor = next
	locs := u.jobLocations(r.Context(), runJobIDs(runs)...)
	for _, run := range runs {
		run.FillDuration()
		rv.Rows = append(rv.Rows, runRow{Run: run, Loc: locs(run.JobID)})
	}
	u.render(w, r, http.StatusOK, "runs", u.page(w, r, "runs", "runs.title", rv))
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// jobLocations returns a lookup of the time zones of the jobs ids, read
// in one store call (a page of runs shows each run in its job's zone); a
// job it cannot read shows in the default zone.
func (u *UI) jobLocations(ctx context.Context, ids ...string) func(jobID string) *time.Location {
	jobs, err := u.svc.JobsByIDs(ctx, ids...)
	if err != nil {
		u.log.Warn("read the listed runs' jobs", "err", err)
	}
	return func(jobID string) *time.Location {
		if j := jobs[jobID]; j != nil {
			return j.Location()
		}
		return u.defLoc
	}
}

// runJobIDs returns the job id of each run.
func runJobIDs(runs []*connecthub.Run) []string {
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.JobID
	}
	return ids
}

// runView is the data of a run's page.
type runView struct {
	Run      *connecthub.Run
	Job      *connecthub.Job
	Loc      *time.Location
	Log      string
	LogNext  int64
	Live     bool
	Snapshot string
	Result   string
	// CanRetry is false while the run is not terminal; RetryReason says why.
	CanRetry    bool
	RetryReason string
	CanCancel   bool
	CSRF        string
	// ImportedFrom is the record of another system the run was imported
	// from (meta.imported_from), or nil.
	ImportedFrom *connecthub.ImportedFrom
}

// runDetail shows everything about a run except its secret values: the
// snapshot shows only the secret keys, and the log was masked when stored.
func (u *UI) runDetail(w http.ResponseWriter, r *http.Request) {
	run, err := u.svc.RunGet(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	run.FillDuration()
	chunk, err := u.svc.RunLogRead(r.Context(), run.ID, 0)
	if err != nil && !notFound(err) {
		u.fail(w, r, err)
		return
	}
	if chunk.Status.Terminal() && !run.Status.Terminal() {
		// The run ended between the two reads. The log read after it is
		// complete (a finished run's log never grows), so read the run again
		// to show its outcome rather than tail a run that is over.
		if run, err = u.svc.RunGet(r.Context(), run.ID); err != nil {
			u.fail(w, r, err)
			return
		}
		run.FillDuration()
	}
	rv := runView{Run: run, Loc: u.defLoc, LogNext: chunk.Next, CSRF: u.sessions.CSRFToken(sessionOf(r))}
	// The page shows the job's zone, not its statistics: one job read.
	if jobs, err := u.svc.JobsByIDs(r.Context(), run.JobID); err == nil && jobs[run.JobID] != nil {
		rv.Job, rv.Loc = jobs[run.JobID], jobs[run.JobID].Location()
	}
	rv.Log = timefmt.LogLines(chunk.Data, rv.Loc)
	// A meta object that does not decode shows nothing rather than failing
	// the page: it is informational, and the raw run is in the API.
	if meta, err := connecthub.DecodeRunMeta(run.Meta); err == nil {
		rv.ImportedFrom = meta.ImportedFrom
	}
	snap := run.Snapshot
	snapJSON, _ := json.Marshal(snap) // SecretCfg is never marshalled
	rv.Snapshot = prettyJSON(snapJSON)
	rv.Result = prettyJSON(run.Result)
	rv.Live = !run.Status.Terminal()
	rv.CanRetry = run.Status.Terminal()
	if !rv.CanRetry {
		rv.RetryReason = u.tr(r, "run.retry_disabled")
	}
	rv.CanCancel = !run.Status.Terminal() && !run.CancelRequested
	u.render(w, r, http.StatusOK, "run", u.page(w, r, "runs", "run.title", rv))
}

// runLogStream tails a run's log as Server-Sent Events: "status" events
// carry the run's status while it is not terminal (at the start and on each
// change), "log" events carry new text as a JSON string (exact, whatever it
// contains; the page inserts it as text, never as HTML), and an "end" event
// carries the final status. It resumes from Last-Event-ID when the browser
// reconnects.
func (u *UI) runLogStream(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	offset, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			offset = n
		}
	}
	offset = max(offset, 0)
	chunk, err := u.svc.RunLogRead(r.Context(), id, offset)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	// The lines show in the job's timezone, like the rest of the page.
	loc := u.defLoc
	if run, err := u.svc.RunGet(r.Context(), id); err == nil {
		loc = u.jobLocations(r.Context(), run.JobID)(run.JobID)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var status connecthub.RunStatus // the last status sent
	poll := time.NewTicker(u.cfg.LogPoll)
	defer poll.Stop()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		if chunk.Status != status && !chunk.Status.Terminal() {
			// QUEUED → RUNNING: the page refreshes its status and actions.
			status = chunk.Status
			if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", status); err != nil {
				return
			}
		}
		if chunk.Data != "" {
			data, _ := json.Marshal(timefmt.LogLines(chunk.Data, loc))
			if _, err := fmt.Fprintf(w, "id: %d\nevent: log\ndata: %s\n\n", chunk.Next, data); err != nil {
				return
			}
		}
		if chunk.Status.Terminal() {
			_, _ = fmt.Fprintf(w, "event: end\ndata: %s\n\n", chunk.Status)
			_ = rc.Flush()
			return
		}
		_ = rc.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			_ = rc.Flush()
			continue
		case <-poll.C:
		}
		next, err := u.svc.RunLogRead(r.Context(), id, chunk.Next)
		if err != nil {
			// Deleted while followed: end politely.
			_, _ = fmt.Fprint(w, "event: end\ndata: DELETED\n\n")
			_ = rc.Flush()
			return
		}
		chunk = next
	}
}

// runRetry starts a new run from a terminal run's snapshot and opens it.
func (u *UI) runRetry(w http.ResponseWriter, r *http.Request) {
	run, err := u.svc.RunRetry(r.Context(), r.PathValue("id"), requestedBy(r))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "flash.run_retried", run.ID)
	redirect(w, r, runURL(run.ID))
}

// runCancel cancels a queued run at once, or asks a running one to stop.
func (u *UI) runCancel(w http.ResponseWriter, r *http.Request) {
	run, err := u.svc.RunCancel(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if run.Status == connecthub.StatusCanceled {
		setFlash(w, r, "flash.run_canceled", run.ID)
	} else {
		setFlash(w, r, "flash.cancel_asked", run.ID)
	}
	redirect(w, r, runURL(run.ID))
}
