package adminui

import (
	"net/http"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// Chains in the admin UI: the job page's graph of upstream and downstream
// jobs and the run page's chain section are partials its pages load, so
// that the pages themselves gain one line each; the job form's two fields
// are on_success and on_failure as comma-separated lists of job ids.

// chainRoutes registers the two partials.
func (u *UI) chainRoutes(p func(string, connecthub.Role, http.HandlerFunc)) {
	p("GET "+Prefix+"/jobs/{id}/chain", connecthub.RoleViewer, u.jobChainPanel)
	p("GET "+Prefix+"/runs/{id}/chain", connecthub.RoleViewer, u.runChainPanel)
}

// jobChainView is the job page's graph: the jobs whose end starts this
// one on the left, this job in the middle, the jobs it starts on the right.
type jobChainView struct {
	Chain *connecthub.JobChain
	// Enabled says, for each job on the graph, whether it is enabled: a
	// disabled downstream job is not started, and the graph says so.
	Enabled map[string]bool
}

func (u *UI) jobChainPanel(w http.ResponseWriter, r *http.Request) {
	c, err := u.svc.JobChain(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := jobChainView{Chain: c, Enabled: map[string]bool{}}
	jobs, err := u.svc.JobsByIDs(r.Context(), append(append([]string{}, c.OnSuccess...), c.OnFailure...)...)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for id, j := range jobs {
		v.Enabled[id] = j.Enabled
	}
	u.renderPartial(w, r, http.StatusOK, "chains", "job_chain", v)
}

// runChainView is the run page's chain section.
type runChainView struct {
	Chain *connecthub.RunChain
	Loc   *time.Location
}

func (u *UI) runChainPanel(w http.ResponseWriter, r *http.Request) {
	run, err := u.svc.RunGet(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	c, err := u.svc.RunChainOf(r.Context(), run)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := runChainView{Chain: c, Loc: u.defLoc}
	v.Loc = u.jobLocations(r.Context(), run.JobID)(run.JobID)
	u.renderPartial(w, r, http.StatusOK, "chains", "run_chain", v)
}

// chainFormValue is a chain list as the form's field shows it.
func chainFormValue(ids []string) string { return strings.Join(ids, ", ") }

// chainErrorArgs returns the arguments of the catalog's message for a
// chain error, which quote what the API's English message names (the
// cycle, or the unknown job), or nil for another error.
func chainErrorArgs(e *connecthub.Error) []any {
	switch e.Code {
	case "chain_cycle":
		if i := strings.LastIndex(e.Message, ": "); i >= 0 {
			return []any{e.Message[i+2:]}
		}
	case "unknown_job":
		if i := strings.Index(e.Message, `"`); i >= 0 {
			if j := strings.LastIndex(e.Message, `"`); j > i {
				return []any{e.Message[i+1 : j]}
			}
		}
	}
	return nil
}
