package httpapi

import (
	"net/http"
	"strconv"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// revisionRoutes registers the routes of job revisions: anyone signed in
// reads them (they show secret key names and whether values changed,
// never a value); a restore is a save of the job, so it needs an admin.
func (a *API) revisionRoutes(api apiFunc) {
	api("GET /api/v1/jobs/{id}/revisions", connecthub.RoleViewer, a.revisionList)
	api("GET /api/v1/jobs/{id}/revisions/{n}", connecthub.RoleViewer, a.revisionGet)
	api("GET /api/v1/jobs/{id}/revisions/{a}/diff/{b}", connecthub.RoleViewer, a.revisionDiff)
	api("POST /api/v1/jobs/{id}/revisions/{n}/restore", connecthub.RoleAdmin, a.revisionRestore)
	api("GET /api/v1/deleted-jobs", connecthub.RoleViewer, a.deletedJobs)
}

// revisionNumber reads a revision number from the path: a 400 naming the
// parameter when it is not a positive integer.
func revisionNumber(r *http.Request, name string) (int, error) {
	v := r.PathValue(name)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, connecthub.FieldError(name, "", "%s must be a revision number (1 or more), not %q", name, v)
	}
	return n, nil
}

func (a *API) revisionList(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	revs, next, err := a.svc.RevisionList(r.Context(), connecthub.RevisionFilter{JobID: r.PathValue("id"), Limit: limit,
		Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	if revs == nil {
		revs = []*connecthub.Revision{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"revisions": revs, "next_cursor": next})
	return nil
}

func (a *API) revisionGet(w http.ResponseWriter, r *http.Request) error {
	n, err := revisionNumber(r, "n")
	if err != nil {
		return err
	}
	rev, err := a.svc.RevisionGet(r.Context(), r.PathValue("id"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rev)
	return nil
}

func (a *API) revisionDiff(w http.ResponseWriter, r *http.Request) error {
	from, err := revisionNumber(r, "a")
	if err != nil {
		return err
	}
	to, err := revisionNumber(r, "b")
	if err != nil {
		return err
	}
	d, err := a.svc.RevisionDiff(r.Context(), r.PathValue("id"), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// revisionRestore takes no body: the revision is the whole input.
func (a *API) revisionRestore(w http.ResponseWriter, r *http.Request) error {
	n, err := revisionNumber(r, "n")
	if err != nil {
		return err
	}
	j, warnings, err := a.svc.RevisionRestore(r.Context(), r.PathValue("id"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newSavedJob(j, warnings))
	return nil
}

func (a *API) deletedJobs(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	jobs, next, err := a.svc.DeletedJobs(r.Context(), store.DeletedJobsParams{Limit: limit, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	if jobs == nil {
		jobs = []*connecthub.DeletedJob{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs, "next_cursor": next})
	return nil
}
