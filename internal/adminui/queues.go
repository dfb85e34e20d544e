package adminui

import (
	"net/http"

	"github.com/connecthub/connecthub/internal/service"
)

// queuesView is the queues page.
type queuesView struct {
	Queues []service.QueueView
	CSRF   string
}

func (u *UI) queueList(w http.ResponseWriter, r *http.Request) {
	qs, err := u.svc.Queues(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := queuesView{Queues: qs, CSRF: u.sessions.CSRFToken(sessionOf(r))}
	u.render(w, r, http.StatusOK, "queues", u.page(w, r, "queues", "queues.title", v))
}

// queueSetPaused pauses or resumes the queue in the path.
func (u *UI) queueSetPaused(pause bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var err error
		if pause {
			_, err = u.svc.QueuePause(r.Context(), name, requestedBy(r))
		} else {
			_, err = u.svc.QueueResume(r.Context(), name)
		}
		if err != nil {
			u.fail(w, r, err)
			return
		}
		key := "flash.queue_resumed"
		if pause {
			key = "flash.queue_paused"
		}
		setFlash(w, r, key, name)
		redirect(w, r, Prefix+"/queues")
	}
}
