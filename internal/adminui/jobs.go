package adminui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/service"
)

// jobsPageSize is how many jobs one page of the table shows.
const jobsPageSize = 50

// jobRow is one row of the jobs table; it is also rendered alone when the
// enabled toggle swaps it in place.
type jobRow struct {
	Job     *connecthub.Job
	Loc     *time.Location
	LastRun *connecthub.RunSummary
	CSRF    string
	// Return is where the toggle's plain form post comes back to.
	Return string
	// Can is what the viewer's role allows: the row shows only those
	// controls.
	Can perms
}

// jobsView is the data of the jobs page.
type jobsView struct {
	Rows       []jobRow
	Query      url.Values
	Q          string
	Enabled    string
	Handler    string
	Handlers   []string
	FirstPage  bool
	NextCursor string
	// Filtered is true when a search or filter is active, so an empty
	// result says "nothing matches" rather than "create your first job".
	Filtered bool
}

// jobList shows the searchable, paginated jobs table.
func (u *UI) jobList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := connecthub.JobFilter{Query: strings.TrimSpace(q.Get("q")), Handler: q.Get("handler"), Limit: jobsPageSize, Cursor: q.Get("cursor")}
	enabled := q.Get("enabled")
	if enabled != "" {
		b, err := strconv.ParseBool(enabled)
		if err != nil {
			u.renderError(w, r, http.StatusBadRequest, "", "enabled must be true or false")
			return
		}
		p.Enabled = &b
	}
	jobs, next, err := u.svc.JobList(r.Context(), p)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	s := sessionOf(r)
	jv := jobsView{Query: q, Q: p.Query, Enabled: enabled, Handler: p.Handler, FirstPage: p.Cursor == "", NextCursor: next,
		Filtered: p.Query != "" || p.Enabled != nil || p.Handler != ""}
	for _, h := range u.handlers(r.Context()) {
		jv.Handlers = append(jv.Handlers, h.Name)
	}
	for _, j := range jobs {
		row, err := u.row(r, j, u.sessions.CSRFToken(s), r.URL.RequestURI())
		if err != nil {
			u.fail(w, r, err)
			return
		}
		jv.Rows = append(jv.Rows, row)
	}
	u.render(w, r, http.StatusOK, "jobs", u.page(w, r, "jobs", "jobs.title", jv))
}

// handlers lists the handlers a job may name: this server's own and those
// registered nodes advertise. When the registry cannot be read the form
// still offers this server's own, and the save reports the problem.
func (u *UI) handlers(ctx context.Context) []service.HandlerInfo {
	list, err := u.svc.HandlerList(ctx)
	if err != nil {
		u.log.Warn("list handlers of registered nodes", "err", err)
		return u.svc.Handlers("")
	}
	return list
}

// row builds a job's table row; its last run is the job's LastRun, which
// the service's job list fills in.
func (u *UI) row(r *http.Request, j *connecthub.Job, csrf, ret string) (jobRow, error) {
	return jobRow{Job: j, Loc: j.Location(), LastRun: j.LastRun, CSRF: csrf, Return: ret, Can: permsOf(r)}, nil
}

// jobSetEnabled serves the enabled toggle. From htmx it answers with the
// updated table row; from a plain form it goes back where it came from.
func (u *UI) jobSetEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		j, err := u.svc.JobSetEnabled(r.Context(), r.PathValue("id"), enabled)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		if isHTMX(r) {
			if err := u.svc.FillLastRuns(r.Context(), j); err != nil {
				u.fail(w, r, err)
				return
			}
			row, err := u.row(r, j, u.sessions.CSRFToken(sessionOf(r)), safeNext(r.PostFormValue("return")))
			if err != nil {
				u.fail(w, r, err)
				return
			}
			u.renderPartial(w, r, http.StatusOK, "jobs", "job_row", row)
			return
		}
		key := "flash.job_disabled"
		if enabled {
			key = "flash.job_enabled"
		}
		setFlash(w, r, key, j.ID)
		http.Redirect(w, r, returnTo(r, jobURL(j.ID)), http.StatusSeeOther)
	}
}

// returnTo is the form's "return" field when it is a page of the UI, else
// fallback.
func returnTo(r *http.Request, fallback string) string {
	if ret := r.PostFormValue("return"); ret != "" {
		return safeNext(ret)
	}
	return fallback
}

// jobRun starts a run now and opens it, where its log tails live. The
// form's request_key (an Idempotency-Key made when the page was shown)
// makes a form sent twice open the one run the first made.
func (u *UI) jobRun(w http.ResponseWriter, r *http.Request) {
	run, _, err := u.svc.RunNowKeyed(r.Context(), r.PathValue("id"), requestedBy(r), nil, r.PostFormValue("request_key"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "flash.run_started", run.ID)
	redirect(w, r, runURL(run.ID))
}

// requestedBy records who asked for a run, in its snapshot meta.
func requestedBy(r *http.Request) string {
	if s := sessionOf(r); s != nil {
		return "admin-ui:" + s.User
	}
	return "admin-ui"
}

// confirmView is the data of a confirmation page.
type confirmView struct {
	Job *connecthub.Job
	// Action is "delete" or "purge".
	Action string
	// Runs counts what will go; More is true when there are more than
	// counted (the count stops at runCountCap).
	Runs int
	More bool
}

// runCountCap bounds how many runs a confirmation page counts one by one.
const runCountCap = 5000

// countRuns counts a job's runs (only finished ones when finished is true),
// up to runCountCap.
func (u *UI) countRuns(ctx context.Context, jobID string, finished bool) (n int, more bool, err error) {
	p := connecthub.RunFilter{JobID: jobID, Limit: 500}
	if finished {
		p.Status = []connecthub.RunStatus{connecthub.StatusSuccess, connecthub.StatusFailure, connecthub.StatusCanceled, connecthub.StatusSkipped}
	}
	for {
		runs, next, err := u.svc.RunList(ctx, p)
		if err != nil {
			return 0, false, err
		}
		n += len(runs)
		if next == "" {
			return n, false, nil
		}
		if n >= runCountCap {
			return n, true, nil
		}
		p.Cursor = next
	}
}

func (u *UI) confirm(w http.ResponseWriter, r *http.Request, action string, finished bool) {
	j, err := u.svc.JobGet(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	n, more, err := u.countRuns(r.Context(), j.ID, finished)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	cv := confirmView{Job: j, Action: action, Runs: n, More: more}
	u.render(w, r, http.StatusOK, "confirm", u.page(w, r, "jobs", "confirm."+action+".title", cv))
}

// jobDeleteConfirm names what a delete will remove before it happens.
func (u *UI) jobDeleteConfirm(w http.ResponseWriter, r *http.Request) {
	u.confirm(w, r, "delete", false)
}

// jobPurgeConfirm names what a purge will remove before it happens.
func (u *UI) jobPurgeConfirm(w http.ResponseWriter, r *http.Request) { u.confirm(w, r, "purge", true) }

// jobDelete deletes the job and all its runs.
func (u *UI) jobDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := u.svc.JobDelete(r.Context(), id); err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "flash.job_deleted", id)
	redirect(w, r, Prefix+"/jobs")
}

// jobPurge deletes the job's finished runs and keeps the job.
func (u *UI) jobPurge(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := u.svc.RunPurge(r.Context(), id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "flash.runs_purged", strconv.FormatInt(n, 10))
	redirect(w, r, jobURL(id))
}

// notFound reports whether err is a "not found" error.
func notFound(err error) bool {
	var e *connecthub.Error
	return errors.As(err, &e) && e.Kind == connecthub.KindNotFound
}
