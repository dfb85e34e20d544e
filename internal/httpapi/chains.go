package httpapi

import (
	"net/http"

	"github.com/connecthub/connecthub"
)

// chainRoutes registers the read side of chains: a job's upstream and
// downstream jobs, and a run's parent and the runs it started. The chain
// lists themselves are job fields (on_success, on_failure).
func (a *API) chainRoutes(api apiFunc) {
	api("GET /api/v1/jobs/{id}/chain", connecthub.RoleViewer, a.jobChain)
	api("GET /api/v1/runs/{id}/chain", connecthub.RoleViewer, a.runChain)
}

func (a *API) jobChain(w http.ResponseWriter, r *http.Request) error {
	c, err := a.svc.JobChain(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) runChain(w http.ResponseWriter, r *http.Request) error {
	c, err := a.svc.RunChain(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
