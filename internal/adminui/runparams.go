package adminui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/connecthub/connecthub"
)

// runParamsForm is the "Run with parameters…" page: one input per
// top-level property of the handler's config schema, each empty meaning
// "as configured", and a JSON editor for anything else.
type runParamsForm struct {
	Job     *connecthub.Job
	Fields  []schemaField
	Values  map[string]string
	JSON    string
	Error   string
	Current map[string]string // the job's configured values, as placeholders
	CSRF    string
	// RequestKey is the Idempotency-Key of a form sent back for a fix: the
	// same request, so it keeps its key; empty makes the page a new one.
	RequestKey string
}

func (u *UI) runParamsPage(w http.ResponseWriter, r *http.Request) {
	j, err := u.svc.JobGet(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.showRunParams(w, r, http.StatusOK, &runParamsForm{Job: j, Values: map[string]string{}, JSON: "{}"})
}

func (u *UI) showRunParams(w http.ResponseWriter, r *http.Request, status int, f *runParamsForm) {
	f.CSRF = u.sessions.CSRFToken(sessionOf(r))
	for _, h := range u.handlers(r.Context()) {
		if h.Name == f.Job.Handler {
			f.Fields = newHandlerView(h, pickLanguage(r)).Fields
		}
	}
	f.Current = map[string]string{}
	var cfg map[string]json.RawMessage
	if json.Unmarshal(f.Job.PublicCfg, &cfg) == nil {
		for k, v := range cfg {
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(v)
			}
			f.Current[k] = s
		}
	}
	u.render(w, r, status, "run_params", u.page(w, r, "jobs", "runparams.title", f))
}

// params builds the run's params: the JSON editor's object, then every
// schema input that was filled in, typed by the schema (the inputs win).
func (f *runParamsForm) params() (json.RawMessage, error) {
	out := map[string]any{}
	if s := strings.TrimSpace(f.JSON); s != "" {
		if err := json.Unmarshal([]byte(s), &out); err != nil || out == nil {
			return nil, errors.New("params must be a JSON object")
		}
	}
	for _, fld := range f.Fields {
		v := strings.TrimSpace(f.Values[fld.Name])
		if v == "" {
			continue
		}
		switch fld.Type {
		case "integer":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, errors.New(fld.Name + ": not an integer")
			}
			out[fld.Name] = n
		case "number":
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, errors.New(fld.Name + ": not a number")
			}
			out[fld.Name] = n
		case "boolean":
			out[fld.Name] = v == "true"
		case "string":
			out[fld.Name] = v
		default:
			var parsed any
			if err := json.Unmarshal([]byte(v), &parsed); err != nil {
				return nil, errors.New(fld.Name + ": not valid JSON")
			}
			out[fld.Name] = parsed
		}
	}
	return json.Marshal(out)
}

// runWithParams starts the run, or shows the form again with the reason
// (a value the handler's schema refuses is a 400 naming params).
func (u *UI) runWithParams(w http.ResponseWriter, r *http.Request) {
	j, err := u.svc.JobGet(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	f := &runParamsForm{Job: j, Values: map[string]string{}, JSON: r.PostFormValue("params"), RequestKey: r.PostFormValue("request_key")}
	for _, h := range u.handlers(r.Context()) {
		if h.Name == j.Handler {
			f.Fields = newHandlerView(h, pickLanguage(r)).Fields
		}
	}
	for _, fld := range f.Fields {
		f.Values[fld.Name] = r.PostFormValue("p." + fld.Name)
	}
	params, err := f.params()
	if err == nil {
		var run *connecthub.Run
		if run, _, err = u.svc.RunNowKeyed(r.Context(), j.ID, requestedBy(r), params, r.PostFormValue("request_key")); err == nil {
			setFlash(w, r, "flash.run_started", run.ID)
			redirect(w, r, runURL(run.ID))
			return
		}
		errs := fieldErrors(err) // nil: an internal error, no fault of the form
		if errs == nil {
			u.fail(w, r, err)
			return
		}
		err = errors.New(errs[0].Message)
	}
	f.Error = err.Error()
	u.showRunParams(w, r, http.StatusUnprocessableEntity, f)
}
