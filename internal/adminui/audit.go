package adminui

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 50

// auditView is the data of the audit log page and of a job's History tab.
type auditView struct {
	Entries    []*connecthub.AuditEntry
	Actor      string
	Action     string
	Target     string
	Since      string
	Until      string
	Query      url.Values
	NextCursor string
	// ExportCSV and ExportJSON download what the filters select (every
	// page), built here from escaped values.
	ExportCSV, ExportJSON template.URL
	// Job is set on a job's History tab.
	Job   *connecthub.Job
	Error string
	Loc   *time.Location
	TZ    string
}

func (u *UI) auditRoutes(p func(string, connecthub.Role, http.HandlerFunc)) {
	p("GET "+Prefix+"/audit", connecthub.RoleViewer, u.auditList)
	p("GET "+Prefix+"/jobs/{id}/history", connecthub.RoleViewer, u.jobHistory)
}

// auditList shows the audit log with its filters.
func (u *UI) auditList(w http.ResponseWriter, r *http.Request) {
	av := u.auditPage(r, "")
	u.render(w, r, http.StatusOK, "audit", u.page(w, r, "audit", "audit.title", av))
}

// jobHistory is a job's History tab: who changed, ran or deleted it.
func (u *UI) jobHistory(w http.ResponseWriter, r *http.Request) {
	j, err := u.svc.JobGet(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	av := u.auditPage(r, "job:"+j.ID)
	av.Job = j
	u.render(w, r, http.StatusOK, "audit", u.page(w, r, "jobs", "audit.history.title", av))
}

// auditPage reads the filters and the page; a bad filter is shown on the
// page, not as an error page, so that it can be fixed in place.
func (u *UI) auditPage(r *http.Request, target string) auditView {
	q := r.URL.Query()
	av := auditView{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Target: strings.TrimSpace(q.Get("target")), Since: q.Get("since"), Until: q.Get("until"), Query: q, Loc: u.defLoc, TZ: u.cfg.Timezone}
	if target != "" {
		av.Target = target
	}
	f := connecthub.AuditFilter{Actor: av.Actor, Action: av.Action, Target: av.Target, Limit: auditPageSize, Cursor: q.Get("cursor")}
	export := url.Values{}
	for k, v := range map[string]string{"actor": av.Actor, "action": av.Action, "target": av.Target} {
		if v != "" {
			export.Set(k, v)
		}
	}
	for _, t := range []struct {
		name, v string
		dst     *time.Time
	}{{"since", av.Since, &f.Since}, {"until", av.Until, &f.Until}} {
		v, err := u.parseFilterTime(t.v)
		if err != nil {
			av.Error = u.tr(r, "audit.error.time", t.v)
			return av
		}
		if v != nil {
			*t.dst = *v
			export.Set(t.name, v.UTC().Format(time.RFC3339))
		}
	}
	for _, f := range []struct {
		format string
		dst    *template.URL
	}{{"csv", &av.ExportCSV}, {"json", &av.ExportJSON}} {
		export.Set("format", f.format)
		*f.dst = template.URL("/api/v1/audit/export?" + export.Encode())
	}
	list, next, err := u.svc.AuditList(r.Context(), f)
	if err != nil {
		if msg, ok := u.formError(r, err); ok {
			av.Error = msg
			return av
		}
		u.log.Error("read the audit log", "err", err)
		av.Error = u.tr(r, "audit.error.read")
		return av
	}
	av.Entries, av.NextCursor = list, next
	return av
}
