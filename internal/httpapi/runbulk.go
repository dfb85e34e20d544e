package httpapi

import (
	"net/http"

	"github.com/connecthub/connecthub"
)

// runBulkRoutes registers the bulk actions on a filtered list of runs:
// retrying and cancelling are an operator's, like on one run; deleting
// history is an admin's, like purging a job's runs.
func (a *API) runBulkRoutes(api apiFunc) {
	api("POST /api/v1/runs/bulk/retry", connecthub.RoleOperator, a.runBulk(connecthub.BulkRetry))
	api("POST /api/v1/runs/bulk/cancel", connecthub.RoleOperator, a.runBulk(connecthub.BulkCancel))
	api("POST /api/v1/runs/bulk/delete", connecthub.RoleAdmin, a.runBulk(connecthub.BulkDelete))
}

// runBulk answers 200 with each run's outcome, also when the action
// stopped part-way (complete false, stopped saying why), so that a client
// always learns which runs were done.
func (a *API) runBulk(action string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		var req connecthub.BulkRunRequest
		if err := unmarshalBody(body, &req, true); err != nil {
			return err
		}
		res, err := a.svc.RunBulk(r.Context(), action, req, requester(r))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	}
}
