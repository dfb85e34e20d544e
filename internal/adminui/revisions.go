package adminui

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/httperr"
	"github.com/connecthub/connecthub/internal/service"
	"github.com/connecthub/connecthub/internal/store"
)

// revisionsPageSize is how many revisions one page of the tab shows.
const revisionsPageSize = 50

// revisionsView is the data of a job's Revisions tab: its revisions,
// two of them picked for a side-by-side diff, and restore buttons.
type revisionsView struct {
	JobID string
	// Exists is false for a deleted job: the tab still lists its
	// revisions, and a restore re-creates it.
	Exists     bool
	Revisions  []*connecthub.Revision
	NextCursor string
	Query      url.Values
	// A and B are the revisions compared (A older, as picked), 0 when the
	// job has fewer than two.
	A, B int
	Diff *revisionDiffView
	Loc  *time.Location
	// Confirm, when set, makes the page the confirmation of a restore.
	Confirm *revisionRestoreView
}

// revisionDiffView is a diff shown side by side.
type revisionDiffView struct {
	From, To *connecthub.Revision
	Changes  []connecthub.AuditChange
}

// revisionRestoreView is the data of the restore confirmation.
type revisionRestoreView struct {
	JobID    string
	Exists   bool
	Revision *connecthub.Revision
	// Diff is what the restore changes: the newest revision against the
	// one restored.
	Diff  *revisionDiffView
	Error string
}

// deletedJobsView is the data of the deleted jobs page.
type deletedJobsView struct {
	Jobs       []*connecthub.DeletedJob
	NextCursor string
	Query      url.Values
	Loc        *time.Location
}

func (u *UI) revisionRoutes(p func(string, connecthub.Role, http.HandlerFunc)) {
	p("GET "+Prefix+"/jobs/{id}/revisions", connecthub.RoleViewer, u.revisionList)
	p("GET "+Prefix+"/jobs/{id}/revisions/{n}/restore", connecthub.RoleAdmin, u.revisionRestoreConfirm)
	p("POST "+Prefix+"/jobs/{id}/revisions/{n}/restore", connecthub.RoleAdmin, u.revisionRestore)
	p("GET "+Prefix+"/deleted-jobs", connecthub.RoleViewer, u.deletedJobs)
}

// revisionList shows a job's revisions and, when two are picked (a and b
// in the query; by default the two newest), their diff.
func (u *UI) revisionList(w http.ResponseWriter, r *http.Request) {
	id, q := r.PathValue("id"), r.URL.Query()
	revs, next, err := u.svc.RevisionList(r.Context(), connecthub.RevisionFilter{JobID: id, Limit: revisionsPageSize, Cursor: q.Get("cursor")})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := revisionsView{JobID: id, Revisions: revs, NextCursor: next, Query: q, Loc: u.defLoc}
	_, err = u.svc.JobGet(r.Context(), id)
	v.Exists = err == nil
	if len(revs) >= 2 {
		v.A, v.B = revs[1].Revision, revs[0].Revision
	}
	if q.Has("a") || q.Has("b") {
		a, errA := strconv.Atoi(q.Get("a"))
		b, errB := strconv.Atoi(q.Get("b"))
		if errA != nil || errB != nil || a < 1 || b < 1 {
			u.renderError(w, r, http.StatusBadRequest, "revisions.error.pick", "")
			return
		}
		v.A, v.B = a, b
	}
	if v.A > 0 {
		if v.Diff, err = u.revisionDiff(r, id, v.A, v.B); err != nil {
			u.fail(w, r, err)
			return
		}
	}
	u.render(w, r, http.StatusOK, "revisions", u.page(w, r, "jobs", "revisions.title", v))
}

// revisionDiff reads revisions a and b of a job and their diff.
func (u *UI) revisionDiff(r *http.Request, id string, a, b int) (*revisionDiffView, error) {
	from, err := u.svc.RevisionGet(r.Context(), id, a)
	if err != nil {
		return nil, err
	}
	to, err := u.svc.RevisionGet(r.Context(), id, b)
	if err != nil {
		return nil, err
	}
	return &revisionDiffView{From: from, To: to, Changes: service.DiffRevisions(from, to)}, nil
}

// restoreView reads what the confirmation of restoring revision n shows.
func (u *UI) restoreView(r *http.Request) (*revisionRestoreView, error) {
	id := r.PathValue("id")
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return nil, connecthub.FieldError("n", "", "%q is not a revision number", r.PathValue("n"))
	}
	rev, err := u.svc.RevisionGet(r.Context(), id, n)
	if err != nil {
		return nil, err
	}
	v := &revisionRestoreView{JobID: id, Revision: rev}
	_, err = u.svc.JobGet(r.Context(), id)
	v.Exists = err == nil
	newest, _, err := u.svc.RevisionList(r.Context(), connecthub.RevisionFilter{JobID: id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(newest) == 1 && newest[0].Revision != n {
		if v.Diff, err = u.revisionDiff(r, id, newest[0].Revision, n); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// revisionRestoreConfirm says what a restore will do before it happens.
func (u *UI) revisionRestoreConfirm(w http.ResponseWriter, r *http.Request) {
	v, err := u.restoreView(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.renderRestore(w, r, http.StatusOK, v)
}

// revisionRestore restores the revision; a restore the rules refuse (a
// handler nobody serves any more) is shown on the confirmation, with
// the field it names.
func (u *UI) revisionRestore(w http.ResponseWriter, r *http.Request) {
	v, err := u.restoreView(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if _, _, err := u.svc.RevisionRestore(r.Context(), v.JobID, v.Revision.Revision); err != nil {
		p := httperr.Of(err)
		if p.Internal || p.Status == http.StatusForbidden || p.Status == http.StatusNotFound {
			u.fail(w, r, err)
			return
		}
		v.Error = u.errorText(r, err)
		u.renderRestore(w, r, p.Status, v)
		return
	}
	setFlash(w, r, "revisions.flash.restored", strconv.Itoa(v.Revision.Revision))
	redirect(w, r, jobURL(v.JobID))
}

// deletedJobs lists the deleted jobs that revisions can bring back.
func (u *UI) deletedJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	jobs, next, err := u.svc.DeletedJobs(r.Context(), store.DeletedJobsParams{Limit: revisionsPageSize, Cursor: q.Get("cursor")})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := deletedJobsView{Jobs: jobs, NextCursor: next, Query: q, Loc: u.defLoc}
	u.render(w, r, http.StatusOK, "deleted_jobs", u.page(w, r, "jobs", "revisions.deleted.title", v))
}

// renderRestore shows the confirmation of a restore.
func (u *UI) renderRestore(w http.ResponseWriter, r *http.Request, status int, c *revisionRestoreView) {
	v := revisionsView{JobID: c.JobID, Exists: c.Exists, Loc: u.defLoc, Confirm: c}
	u.render(w, r, status, "revisions", u.page(w, r, "jobs", "revisions.restore.title", v))
}

// The restore's flash is one of the messages a flash may carry.
func init() { flashKinds["revisions.flash.restored"] = "success" }
