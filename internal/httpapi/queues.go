package httpapi

import (
	"net/http"

	"github.com/connecthub/connecthub"
)

// queueRoutes registers the queues: everyone signed in sees them, an
// operator pauses and resumes them like running a job.
func (a *API) queueRoutes(api apiFunc) {
	api("GET /api/v1/queues", connecthub.RoleViewer, a.queueList)
	api("POST /api/v1/queues/{name}/pause", connecthub.RoleOperator, a.queuePause(true))
	api("POST /api/v1/queues/{name}/resume", connecthub.RoleOperator, a.queuePause(false))
}

func (a *API) queueList(w http.ResponseWriter, r *http.Request) error {
	qs, err := a.svc.Queues(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": qs})
	return nil
}

// queuePause pauses or resumes a queue; changed says whether it was in
// the other state, so a script can tell a no-op.
func (a *API) queuePause(pause bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		var changed bool
		var err error
		if pause {
			changed, err = a.svc.QueuePause(r.Context(), name, requester(r))
		} else {
			changed, err = a.svc.QueueResume(r.Context(), name)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"queue": name, "paused": pause, "changed": changed})
		return nil
	}
}
