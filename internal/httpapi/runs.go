package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
	"github.com/connecthub/connecthub/internal/service"
)

func (a *API) runList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	p := connecthub.RunFilter{JobID: q.Get("job_id"), Limit: limit, Cursor: q.Get("cursor")}
	if v := q.Get("status"); v != "" {
		for _, s := range strings.Split(v, ",") {
			st := connecthub.RunStatus(strings.ToUpper(strings.TrimSpace(s)))
			if !st.Valid() {
				return invalid("status", "status must be one of QUEUED, RUNNING, SUCCESS, FAILURE, CANCELED, SKIPPED (comma-separated)")
			}
			p.Status = append(p.Status, st)
		}
	}
	if v := q.Get("trigger"); v != "" {
		t := connecthub.Trigger(strings.ToLower(v))
		if !t.Valid() {
			return invalid("trigger", "trigger must be one of cron, manual, retry, api, chain")
		}
		p.Trigger = t
	}
	if p.Since, err = parseTime("since", q.Get("since")); err != nil {
		return err
	}
	if p.Until, err = parseTime("until", q.Get("until")); err != nil {
		return err
	}
	runs, next, err := a.svc.RunList(r.Context(), p)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []*connecthub.Run{}
	}
	for _, run := range runs {
		run.FillDuration()
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "next_cursor": next})
	return nil
}

func (a *API) runGet(w http.ResponseWriter, r *http.Request) error {
	run, err := a.svc.RunGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	run.FillDuration()
	writeJSON(w, http.StatusOK, run)
	return nil
}

func (a *API) runRetry(w http.ResponseWriter, r *http.Request) error {
	run, err := a.svc.RunRetry(r.Context(), r.PathValue("id"), requester(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, run)
	return nil
}

func (a *API) runCancel(w http.ResponseWriter, r *http.Request) error {
	run, err := a.svc.RunCancel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	run.FillDuration()
	writeJSON(w, http.StatusOK, run)
	return nil
}

// runLog returns the run log as text, or with ?follow=1 streams it as
// Server-Sent Events: "log" events carry new lines (one data: field per
// line), and a final "end" event carries the run's terminal status.
func (a *API) runLog(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	q := r.URL.Query()
	var offset int64
	if v := q.Get("offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return invalid("offset", "offset must be a non-negative integer")
		}
		offset = n
	}
	follow := false
	if v := q.Get("follow"); v != "" {
		b, err := parseBool("follow", v)
		if err != nil {
			return err
		}
		follow = b
	}
	chunk, err := a.svc.RunLogRead(r.Context(), id, offset)
	if err != nil {
		return err
	}
	if !follow {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Run-Status", string(chunk.Status))
		w.Header().Set("X-Log-Next-Offset", strconv.FormatInt(chunk.Next, 10))
		_, _ = w.Write([]byte(chunk.Data))
		return nil
	}
	return a.followLog(w, r, id, chunk)
}

func (a *API) followLog(w http.ResponseWriter, r *http.Request, id string, chunk connecthub.RunLogChunk) error {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	ticker := time.NewTicker(a.cfg.FollowPoll)
	defer ticker.Stop()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	pending := "" // a partial last line waits for its newline
	for {
		data := pending + chunk.Data
		pending = ""
		if i := strings.LastIndexByte(data, '\n'); i < len(data)-1 && !chunk.Status.Terminal() {
			data, pending = data[:i+1], data[i+1:]
		}
		if data != "" {
			var sb strings.Builder
			fmt.Fprintf(&sb, "id: %d\nevent: log\n", chunk.Next-int64(len(pending)))
			for _, line := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
				sb.WriteString("data: ")
				sb.WriteString(line)
				sb.WriteString("\n")
			}
			sb.WriteString("\n")
			if _, err := w.Write([]byte(sb.String())); err != nil {
				return nil
			}
		}
		if chunk.Status.Terminal() {
			_, _ = fmt.Fprintf(w, "event: end\ndata: %s\n\n", chunk.Status)
			_ = rc.Flush()
			return nil
		}
		_ = rc.Flush()
		select {
		case <-r.Context().Done():
			return nil
		case <-keepalive.C:
			if _, err := w.Write([]byte(": keepalive\n\n")); err != nil {
				return nil
			}
			_ = rc.Flush()
			continue
		case <-ticker.C:
		}
		next, err := a.svc.RunLogRead(r.Context(), id, chunk.Next)
		if err != nil {
			// The run was deleted while followed: end the stream politely.
			_, _ = fmt.Fprintf(w, "event: end\ndata: %s\n\n", "DELETED")
			_ = rc.Flush()
			return nil
		}
		chunk = next
	}
}

func (a *API) cronNext(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	n := 5
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return invalid("n", "n must be an integer")
		}
	}
	after, err := parseTime("after", q.Get("after"))
	if err != nil {
		return err
	}
	var at time.Time
	if after != nil {
		at = *after
	}
	times, skipped, err := a.svc.CronPreview(r.Context(), service.CronPreviewParams{
		Expr: q.Get("expr"), TZ: q.Get("tz"), N: n, After: at,
		Calendar: q.Get("calendar"), Mode: q.Get("calendar_mode"),
	})
	if err != nil {
		return err
	}
	out := make([]string, len(times))
	for i, t := range times {
		out[i] = t.Format(time.RFC3339)
	}
	resp := map[string]any{"times": out}
	if q.Get("calendar") != "" {
		type skip struct {
			Time   string `json:"time"`
			Reason string `json:"reason"`
		}
		sk := make([]skip, len(skipped))
		for i, s := range skipped {
			sk[i] = skip{Time: s.Time.Format(time.RFC3339), Reason: s.Reason}
		}
		resp["skipped"] = sk
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) error {
	s, err := a.svc.Stats(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}
