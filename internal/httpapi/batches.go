package httpapi

import (
	"net/http"
	"strconv"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// batchRoutes registers configuration as code: anyone signed in reads
// the batches (they hold no secret value); admins apply definitions (a
// dry run too, since it compares secret values) and roll batches back.
func (a *API) batchRoutes(api apiFunc) {
	api("GET /api/v1/batches", connecthub.RoleViewer, a.batchList)
	api("POST /api/v1/batches", connecthub.RoleAdmin, a.batchApply)
	api("GET /api/v1/batches/{id}", connecthub.RoleViewer, a.batchGet)
	api("POST /api/v1/batches/{id}/rollback", connecthub.RoleAdmin, a.batchRollback)
}

// BatchItemView is a batch item as the API shows it: the job before and
// after (without secrets) and the fields that changed.
type BatchItemView struct {
	connecthub.BatchItem
	Changes []connecthub.AuditChange `json:"changes"`
}

// BatchView is a batch as the API shows it.
type BatchView struct {
	*connecthub.Batch
	Items []BatchItemView `json:"items,omitempty"`
}

// ViewBatch adds each item's changed fields to a batch read with its
// items.
func ViewBatch(b *connecthub.Batch) BatchView {
	v := BatchView{Batch: b}
	if b.Items != nil {
		v.Items = make([]BatchItemView, len(b.Items))
		for i, it := range b.Items {
			ch := []connecthub.AuditChange{}
			if it.After != nil {
				ch = append(ch, store.JobAuditChanges(it.Before, it.After)...)
			}
			v.Items[i] = BatchItemView{BatchItem: it, Changes: ch}
		}
	}
	return v
}

func batchID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, connecthub.NotFound("batch", r.PathValue("id"))
	}
	return id, nil
}

func (a *API) batchList(w http.ResponseWriter, r *http.Request) error {
	limit, err := parseLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	list, next, err := a.svc.BatchList(r.Context(), connecthub.BatchFilter{Limit: limit, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"batches": list, "next_cursor": next})
	return nil
}

func (a *API) batchGet(w http.ResponseWriter, r *http.Request) error {
	id, err := batchID(r)
	if err != nil {
		return err
	}
	b, err := a.svc.BatchGet(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ViewBatch(b))
	return nil
}

// batchApply plans (dry_run) or applies a set of job definitions: 201
// with the recorded batch when something was written, else 200 with the
// plan alone.
func (a *API) batchApply(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var req connecthub.BatchApplyRequest
	if err := unmarshalBody(body, &req, true); err != nil {
		return err
	}
	res, err := a.svc.BatchApply(r.Context(), &req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Batch != nil {
		status = http.StatusCreated
	}
	writeJSON(w, status, res)
	return nil
}

func (a *API) batchRollback(w http.ResponseWriter, r *http.Request) error {
	id, err := batchID(r)
	if err != nil {
		return err
	}
	b, err := a.svc.BatchRollback(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ViewBatch(b))
	return nil
}
