package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/service"
)

// readBody reads the request body under the size limit; a body over it is
// a 413 rather than a truncated, confusing parse error.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &connecthub.Error{Kind: connecthub.KindTooLarge, Code: "body_too_large", Message: "request body is larger than the limit"}
	}
	if err != nil {
		return nil, &connecthub.Error{Kind: connecthub.KindInvalid, Code: "invalid_body", Message: "could not read request body", Err: err}
	}
	return b, nil
}

func (a *API) jobList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	p := connecthub.JobFilter{Query: q.Get("q"), Handler: q.Get("handler"), Limit: limit, Cursor: q.Get("cursor")}
	if v := q.Get("enabled"); v != "" {
		b, err := parseBool("enabled", v)
		if err != nil {
			return err
		}
		p.Enabled = &b
	}
	jobs, next, err := a.svc.JobList(r.Context(), p)
	if err != nil {
		return err
	}
	if jobs == nil {
		jobs = []*connecthub.Job{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs, "next_cursor": next})
	return nil
}

func (a *API) jobGet(w http.ResponseWriter, r *http.Request) error {
	j, err := a.svc.JobGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	warnings, err := a.svc.JobWarnings(r.Context(), j)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newSavedJob(j, warnings))
	return nil
}

func (a *API) jobDelete(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.JobDelete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// jobRun enqueues a run now. The body is optional: {"params": {...}} runs
// with those parameters merged over the job's public_cfg; any other field
// is a 400. An Idempotency-Key header makes the request safe to send again:
// a repeat gets the first request's run, marked by the Idempotent-Replayed
// header (see service.RunNowKeyed).
func (a *API) jobRun(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Params json.RawMessage `json:"params"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := unmarshalBody(body, &in, true); err != nil {
			return err
		}
	}
	run, replayed, err := a.svc.RunNowKeyed(r.Context(), r.PathValue("id"), requester(r), in.Params, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	run.FillDuration()
	writeJSON(w, http.StatusAccepted, run)
	return nil
}

func (a *API) jobEnable(enabled bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		j, err := a.svc.JobSetEnabled(r.Context(), r.PathValue("id"), enabled)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, j)
		return nil
	}
}

func (a *API) jobPurgeRuns(w http.ResponseWriter, r *http.Request) error {
	n, err := a.svc.RunPurge(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"deleted": n})
	return nil
}

// requester names who asked for a run, recorded in the run's snapshot meta.
func requester(r *http.Request) string {
	if ua := r.Header.Get("X-ConnectHub-Actor"); ua != "" && len(ua) <= 128 {
		return ua
	}
	return "api"
}

// savedJob is the answer to a job save: the job's fields, plus the
// warnings of the save, or of the job as it is today on a GET (always present, [] when there are none, so
// scripts can rely on the field).
type savedJob struct {
	*connecthub.Job
	Warnings []service.Warning `json:"warnings"`
}

func newSavedJob(j *connecthub.Job, warnings []service.Warning) savedJob {
	if warnings == nil {
		warnings = []service.Warning{}
	}
	return savedJob{Job: j, Warnings: warnings}
}

func (a *API) jobCreate(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := connecthub.DecodeJobInput(body)
	if err != nil {
		return err
	}
	j, warnings, err := a.svc.JobCreateWithWarnings(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/jobs/"+j.ID)
	writeJSON(w, http.StatusCreated, newSavedJob(j, warnings))
	return nil
}

func (a *API) jobUpdate(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := connecthub.DecodeJobInput(body)
	if err != nil {
		return err
	}
	j, warnings, err := a.svc.JobUpdateWithWarnings(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newSavedJob(j, warnings))
	return nil
}
