package adminui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/connecthub/connecthub"
)

// bulkView is the confirmation of a bulk action (a dry run's outcomes)
// and, after it, its result.
type bulkView struct {
	Action string
	Result *connecthub.BulkRunResult
	// Query is the runs list's filter, carried to the form and back.
	Query  url.Values
	Fields []bulkField
	CSRF   string
	// Skipped are the outcomes to list (the skipped runs; all the runs
	// when few).
	Skipped []connecthub.BulkRunOutcome
}

// bulkField is a hidden field of the confirmation form.
type bulkField struct{ Name, Value string }

// bulkFilterKeys are the runs list's filter parameters a bulk action
// takes over.
var bulkFilterKeys = []string{"job_id", "status", "trigger", "since", "until"}

// bulkRoutes registers the bulk actions on the runs list: a GET shows the
// confirmation with the count, a POST does it. Retrying and cancelling are
// an operator's, deleting an admin's, as in the API.
func (u *UI) bulkRoutes(p func(pattern string, role connecthub.Role, h http.HandlerFunc)) {
	for _, a := range []struct {
		action string
		role   connecthub.Role
	}{{connecthub.BulkRetry, connecthub.RoleOperator}, {connecthub.BulkCancel, connecthub.RoleOperator}, {connecthub.BulkDelete, connecthub.RoleAdmin}} {
		p("GET "+Prefix+"/runs/bulk/"+a.action, a.role, u.bulkConfirm(a.action))
		p("POST "+Prefix+"/runs/bulk/"+a.action, a.role, u.bulkDo(a.action))
	}
}

// bulkFilter reads the runs list's filter from v (a query or a form).
// An empty filter is refused: a bulk action applies to a list someone
// narrowed down and looked at.
func (u *UI) bulkFilter(r *http.Request, v url.Values) (connecthub.BulkRunFilter, error) {
	f := connecthub.BulkRunFilter{JobID: strings.TrimSpace(v.Get("job_id")), Trigger: connecthub.Trigger(strings.TrimSpace(v.Get("trigger")))}
	f.Status = connecthub.ParseRunStatuses(v.Get("status"))
	var err error
	if f.Since, err = u.parseFilterTime(v.Get("since")); err != nil {
		return f, connecthub.FieldError("since", "", "%s", u.tr(r, "runs.bad_since", v.Get("since")))
	}
	if f.Until, err = u.parseFilterTime(v.Get("until")); err != nil {
		return f, connecthub.FieldError("until", "", "%s", u.tr(r, "runs.bad_until", v.Get("until")))
	}
	if f.Empty() {
		return f, connecthub.FieldError("filter", "", "%s", u.tr(r, "retention.bulk.no_filter"))
	}
	return f, nil
}

// bulkPage renders the confirmation or the result.
func (u *UI) bulkPage(w http.ResponseWriter, r *http.Request, action string, v url.Values, res *connecthub.BulkRunResult) {
	bv := bulkView{Action: action, Result: res, Query: url.Values{}, CSRF: u.sessions.CSRFToken(sessionOf(r))}
	for _, k := range bulkFilterKeys {
		if val := v.Get(k); val != "" {
			bv.Query.Set(k, val)
			bv.Fields = append(bv.Fields, bulkField{k, val})
		}
	}
	for _, o := range res.Outcomes {
		if o.Outcome != connecthub.BulkOK || len(res.Outcomes) <= 20 {
			bv.Skipped = append(bv.Skipped, o)
		}
	}
	u.render(w, r, http.StatusOK, "runs_bulk", u.page(w, r, "runs", "retention.bulk.title."+action, bv))
}

// bulkConfirm shows what the action would do to the filtered runs, with
// their count, and the form that does it.
func (u *UI) bulkConfirm(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f, err := u.bulkFilter(r, q)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		res, err := u.svc.RunBulk(r.Context(), action, connecthub.BulkRunRequest{Filter: f, DryRun: true}, requestedBy(r))
		if err != nil {
			u.fail(w, r, err)
			return
		}
		u.bulkPage(w, r, action, q, res)
	}
}

// bulkDo applies the action to the filtered runs if they are still as
// many as the confirmation showed, and shows each run's outcome.
func (u *UI) bulkDo(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			u.fail(w, r, connecthub.FieldError("form", "", "the form could not be read"))
			return
		}
		f, err := u.bulkFilter(r, r.PostForm)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		expect, err := strconv.Atoi(r.PostForm.Get("expect"))
		if err != nil {
			u.fail(w, r, connecthub.FieldError("expect", "", "expect must be the number of runs confirmed"))
			return
		}
		res, err := u.svc.RunBulk(r.Context(), action, connecthub.BulkRunRequest{Filter: f, Expect: &expect}, requestedBy(r))
		if err != nil {
			u.fail(w, r, err)
			return
		}
		u.bulkPage(w, r, action, r.PostForm, res)
	}
}
