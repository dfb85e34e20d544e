package httpapi

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/connecthub/connecthub"
)

// maxAuditExport bounds one export, so that a request cannot make the
// server stream the whole log of years; narrow the filters for more.
const maxAuditExport = 100000

// auditRoutes registers the audit log's routes: anyone signed in reads
// it (it holds no secret value); nothing writes it but the changes it
// records.
func (a *API) auditRoutes(api apiFunc) {
	api("GET /api/v1/audit", connecthub.RoleViewer, a.auditList)
	api("GET /api/v1/audit/export", connecthub.RoleViewer, a.auditExport)
}

// AuditFilterOf reads the audit filters of a query: actor, action (a
// trailing "." selects a prefix), target, since, until (RFC 3339), limit
// and cursor.
func AuditFilterOf(q map[string][]string) (connecthub.AuditFilter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	f := connecthub.AuditFilter{Actor: get("actor"), Action: get("action"), Target: get("target"), Cursor: get("cursor")}
	var err error
	if f.Limit, err = parseLimit(get("limit")); err != nil {
		return f, err
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v, err := parseTime(t.name, get(t.name))
		if err != nil {
			return f, err
		}
		if v != nil {
			*t.dst = *v
		}
	}
	return f, nil
}

func (a *API) auditList(w http.ResponseWriter, r *http.Request) error {
	f, err := AuditFilterOf(r.URL.Query())
	if err != nil {
		return err
	}
	list, next, err := a.svc.AuditList(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": list, "next_cursor": next})
	return nil
}

// auditExport writes every entry the filters select (up to
// maxAuditExport), newest first, as CSV or JSON (format=csv|json), as a
// download.
func (a *API) auditExport(w http.ResponseWriter, r *http.Request) error {
	f, err := AuditFilterOf(r.URL.Query())
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		return invalid("format", "format must be csv or json")
	}
	f.Limit, f.Cursor = maxLimit, ""
	var all []*connecthub.AuditEntry
	for len(all) < maxAuditExport {
		page, next, err := a.svc.AuditList(r.Context(), f)
		if err != nil {
			return err
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if len(all) > maxAuditExport {
		all = all[:maxAuditExport]
	}
	name := "connecthub-audit-" + time.Now().UTC().Format("20060102T150405Z") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if format == "json" {
		if all == nil {
			all = []*connecthub.AuditEntry{}
		}
		w.Header().Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(map[string]any{"entries": all})
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "at", "actor", "actor_kind", "break_glass", "action", "target", "client", "changes", "detail"})
	for _, e := range all {
		_ = cw.Write([]string{strconv.FormatInt(e.ID, 10), e.At.Format(time.RFC3339Nano), csvCell(e.Actor), e.ActorKind,
			strconv.FormatBool(e.BreakGlass), e.Action, csvCell(e.Target), e.Client, csvCell(changesText(e.Changes)), csvCell(e.Detail)})
	}
	cw.Flush()
	return nil
}

// changesText shows the changes of an entry in one line: "field: before →
// after; ...".
func changesText(changes []connecthub.AuditChange) string {
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = c.Field + ": " + c.Before + " → " + c.After
	}
	return strings.Join(parts, "; ")
}

// csvCell keeps a spreadsheet from running a cell as a formula: a value a
// user chose (a job description, a username) that starts with = + - or @
// is prefixed with a quote.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
