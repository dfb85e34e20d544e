package adminui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/store"
)

// batchesPageSize is how many batches one page of the list shows.
const batchesPageSize = 50

// batchesView is the data of the batch list.
type batchesView struct {
	Batches    []*connecthub.Batch
	Query      url.Values
	NextCursor string
	Loc        *time.Location
}

// batchItemView is one job a batch touched, with its changed fields.
type batchItemView struct {
	connecthub.BatchItem
	Changes []connecthub.AuditChange
	// ChangedSince: the job is no longer as the batch left it, so a
	// rollback would be refused for it.
	ChangedSince bool
}

// batchView is the data of a batch's page and of its rollback
// confirmation.
type batchView struct {
	Batch        *connecthub.Batch
	Items        []batchItemView
	ChangedSince []string
	// Refused is set when a rollback was just refused: the jobs it names.
	Refused string
	Loc     *time.Location
}

func (u *UI) batchRoutes(p func(string, connecthub.Role, http.HandlerFunc)) {
	p("GET "+Prefix+"/batches", connecthub.RoleViewer, u.batchList)
	p("GET "+Prefix+"/batches/{id}", connecthub.RoleViewer, u.batchShow)
	p("GET "+Prefix+"/batches/{id}/rollback", connecthub.RoleAdmin, u.batchRollbackConfirm)
	p("POST "+Prefix+"/batches/{id}/rollback", connecthub.RoleAdmin, u.batchRollback)
}

func batchURL(id int64) string { return Prefix + "/batches/" + strconv.FormatInt(id, 10) }

// batchList lists the batches, newest first.
func (u *UI) batchList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list, next, err := u.svc.BatchList(r.Context(), connecthub.BatchFilter{Limit: batchesPageSize, Cursor: q.Get("cursor")})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	bv := batchesView{Batches: list, Query: q, NextCursor: next, Loc: u.defLoc}
	u.render(w, r, http.StatusOK, "batches", u.page(w, r, "batches", "batches.title", bv))
}

// loadBatch reads the batch of the path with its items' changes and the
// jobs changed since.
func (u *UI) loadBatch(r *http.Request) (*batchView, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, connecthub.NotFound("batch", r.PathValue("id"))
	}
	b, err := u.svc.BatchGet(r.Context(), id)
	if err != nil {
		return nil, err
	}
	changed, err := u.svc.BatchChangedSince(r.Context(), b)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(changed))
	for _, c := range changed {
		set[c] = true
	}
	bv := &batchView{Batch: b, ChangedSince: changed, Loc: u.defLoc}
	for _, it := range b.Items {
		var ch []connecthub.AuditChange
		if it.After != nil {
			ch = store.JobAuditChanges(it.Before, it.After)
		}
		bv.Items = append(bv.Items, batchItemView{BatchItem: it, Changes: ch, ChangedSince: set[it.JobID]})
	}
	return bv, nil
}

// batchShow shows a batch: every job it touched, field by field.
func (u *UI) batchShow(w http.ResponseWriter, r *http.Request) {
	bv, err := u.loadBatch(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "batch", u.page(w, r, "batches", "batches.show.title", bv))
}

// batchRollbackConfirm names what a rollback restores before it happens.
func (u *UI) batchRollbackConfirm(w http.ResponseWriter, r *http.Request) {
	bv, err := u.loadBatch(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "batch_rollback", u.page(w, r, "batches", "batches.rollback.title", bv))
}

// batchRollback rolls the batch back; a refusal (jobs changed since) is
// shown on the batch's page, naming the jobs, with nothing changed.
func (u *UI) batchRollback(w http.ResponseWriter, r *http.Request) {
	bv, err := u.loadBatch(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rb, err := u.svc.BatchRollback(r.Context(), bv.Batch.ID)
	if connecthub.IsKind(err, connecthub.KindConflict) {
		if bv, err = u.loadBatch(r); err != nil {
			u.fail(w, r, err)
			return
		}
		bv.Refused = strings.Join(bv.ChangedSince, ", ")
		u.render(w, r, http.StatusConflict, "batch", u.page(w, r, "batches", "batches.show.title", bv))
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	setFlash(w, r, "batches.flash.rolled_back", strconv.FormatInt(bv.Batch.ID, 10)+"\x00"+strconv.FormatInt(rb.ID, 10))
	redirect(w, r, batchURL(rb.ID))
}
